"""The playground's pages: Streamlit scripts that ``promptkit/ui/app.py`` lists in its navigation."""
