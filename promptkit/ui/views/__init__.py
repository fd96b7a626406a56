"""The playground's pages: Streamlit scripts that ``promptkit/ui/app.py`` lists in its navigation.

The folder is not called ``pages/``: Streamlit would then serve each script on its own (without the app's
navigation and settings) to a browser that opens a page's address directly.
"""
