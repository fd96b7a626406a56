"""The Portuguese and English lexicon of the rule layer: patterns per category, with a confidence.

Patterns are written against folded text (lowercase, no accents, look-alike digits mapped; see
:mod:`promptkit.moderation.folding`), so ``ódio``/``odio``/``0d10`` all match ``odio``.

* ``high`` patterns describe what a text *does* (a threat with a target, a request for a lethal dose, a recipe
  for an explosive, a CPF next to an order to spread it): on their own they mark the text unsafe.
* ``low`` patterns are topic words (``suicidio``, ``bomba``, ``endereco``): they record that a sensitive topic is
  present and need the LLM classifier's agreement.
* ``SAFE_CONTEXT`` patterns (prevention, teaching, history, fiction, news, law, clinical language) turn a ``high``
  hit of that category into a ``low`` one.
* ``HARMLESS`` idioms ("matar o processo", "kill two birds", "morrer de rir") are blanked out before matching.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """One pattern of the lexicon."""

    name: str
    category: str
    confidence: str  # "high" | "low"
    pattern: re.Pattern[str]


def alt(*words: str) -> str:
    """A non-capturing alternation of regex fragments."""
    return "(?:" + "|".join(words) + ")"


def near(a: str, b: str, gap: int = 6) -> str:
    """``a`` followed by ``b`` with at most ``gap`` words between them."""
    return rf"\b{a}\b(?:\W+\w+){{0,{gap}}}?\W+{b}\b"


def both(a: str, b: str, gap: int = 6) -> str:
    """``a`` and ``b`` within ``gap`` words, in either order."""
    return alt(near(a, b, gap), near(b, a, gap))


# -- shared vocabulary ------------------------------------------------------------------------------------------
YOU = alt("voce", "vc", "tu", "te", "sua", "seu", "you", "ur", "u", "youre", "you're", "your")
# protected groups (hate)
GROUP = alt(
    r"nordestin\w*", r"baian\w*", r"imigrant\w*", r"immigrants?", r"refugiad\w*", r"refugees?",
    r"venezuelan\w*", r"haitian\w*", r"bolivian\w*", r"estrangeir\w*", r"foreigners?",
    r"negr[oa]s?", r"pret[oa]s?", r"black (?:people|folks)", r"judeus?", r"judias?", r"jews?",
    r"muculman\w*", r"muslims?", r"islamic\w*", r"macumbeir\w*", r"evangelic\w*", r"catolic\w*",
    r"religiao afro", r"terreiros?", r"gays?", r"lesbic\w*", r"homossexua\w*", r"homosexuals?",
    r"trans", r"transgender", r"travestis?", r"lgbt\w*", r"mulher(?:es)?", r"women", r"females?",
    r"deficientes?", r"disabled(?: people)?", r"autistas?", r"autistic", r"indi[oa]s?", r"ciganos?",
    r"asian?s?", r"asiaticos?", r"(?:esse|essa|esses|essas|aquele|aquela) (?:povo|gente|raca)", r"povo d[eo] \w+",
    r"(?:these|those) people", r"that race", r"(?:their|your) kind", r"chineses?", r"mexicans?", r"arabes?", r"arabs?",
)
DEHUMANISE = alt(
    r"ratos?", r"rats?", r"pragas?", r"plague", r"vermin", r"parasit\w*", r"baratas?", r"cockroach\w*",
    r"animais", r"animals?", r"bichos?", r"macac\w*", r"monkeys?", r"apes?", r"lixo", r"trash", r"garbage",
    r"doenca", r"doentes?", r"mentally ill", r"freaks?", r"aberra\w*", r"abominat\w*", r"sub-?humanos?",
    r"subhuman", r"inferiores", r"inferior", r"drain", r"peso morto", r"escoria", r"scum", r"demonio",
    r"do demonio", r"sujos?", r"filthy", r"disease",
)
EXCLUDE = alt(
    r"(?:devia|deviam|tinha|tem) que (?:ser )?(?:proibid\w*|proibir|expuls\w*|sumir|morrer|mandar)",
    r"nao (?:devia|deveria|deviam|deveriam|pode|podem) (?:poder )?(?:votar|adotar|casar|trabalhar|entrar|existir)",
    r"(?:devia|deveria) ter um muro", r"um muro separando", r"so serve(?:m)? (?:pra|para)",
    r"should(?:n'?t| not) be allowed", r"shouldnt be allowed", r"should be (?:banned|deported|shipped back|removed)",
    r"(?:ship|send) (?:them|\w+) (?:all )?back", r"(?:stop|quit) (?:wasting|spending)", r"keeping them around",
    r"mandar tudo de volta", r"lugar del[ae]s? e", r"nao tem cabeca", r"don'?t belong",
)
SLUR = alt(
    r"viad(?:o|inho|a)s?", r"bichas?", r"sapatao", r"traveco\w*", r"crioul\w*", r"macaco", r"judeuzinho",
    r"faggots?", r"fags?", r"dykes?", r"trann(?:y|ies)", r"niggers?", r"nigg?as?", r"spics?", r"kikes?",
    r"chinks?", r"retards?",
)
INSULT = alt(
    r"burr[oa]s?", r"idiotas?", r"imbecil", r"imbecis", r"otari[oa]s?", r"ridicul[oa]s?", r"inutil",
    r"inuteis", r"patetic[oa]s?", r"lix[oa]", r"nojent[oa]s?", r"retardad[oa]s?", r"gord[oa]s?",
    r"gordinh[oa]", r"feios?", r"feias?", r"baleia", r"vagabund[oa]s?", r"piranha", r"vadia", r"arrombad[oa]",
    r"babaca", r"escrot[oa]", r"merda", r"bost[ao]", r"cretin[oa]", r"mongoloide", r"debil mental",
    r"loser", r"losers", r"idiots?", r"stupid", r"pathetic", r"moron\w*", r"worthless", r"trash", r"dumb",
    r"ugly", r"fat", r"pig", r"clown", r"bitch", r"slut", r"whore", r"retarded", r"dumbass", r"jerk",
    r"the worst \w+ ever", r"o pior \w+ do mundo",
)
SILENCE = alt(
    r"cala a boca", r"cala boca", r"fica quiet[oa]", r"some daqui", r"sai daqui", r"vaza", r"shut up",
    r"get lost", r"go away", r"ninguem (?:te )?(?:pediu|perguntou|aguenta|quer)", r"nobody (?:asked|wants|likes|cares)",
    r"ninguem pediu tua opiniao", r"nem devia ter entrado", r"sai desse grupo",
)
PILE_ON = alt(
    r"(?:everyone|everybody|all of you|let'?s|lets|go) (?:go )?(?:spam|flood|report|raid|dogpile|harass)",
    r"(?:bora|vamos|galera|geral|todo mundo) (?:encher|spamar|lotar|atacar|denunciar|xingar|zoar)",
    r"printa e espalha", r"espalha(?:m)? no grupo", r"(?:until|till) (?:she|he|they) (?:deletes?|quits?|leaves?)",
    r"ate (?:ela|ele) (?:apagar|sair|deletar|chorar)", r"until you cry", r"ate voce chorar", r"ate tu chorar",
    r"(?:i'?ll|i will|vou) keep (?:emailing|messaging|texting|calling|dming)",
    r"vou continuar (?:te )?(?:mandando|ligando|mandar|ligar)", r"every (?:hour|day|minute) until",
)
MOCK_LOOKS = alt(r"olha a cara", r"look at (?:her|his|that) face", r"parece um[a]? \w+", r"looks like a \w+")

# violence
HARM_VERB_PT = alt(
    r"matar", r"mato", r"pegar", r"bater", r"quebrar", r"esfaquear", r"furar", r"queimar", r"arrebentar",
    r"esperar", r"acabar com", r"dar um tiro", r"meter bala", r"socar", r"espancar",
)
HARM_VERB_EN = alt(
    r"kill", r"hurt", r"stab", r"shoot", r"beat", r"break", r"burn", r"find", r"get", r"end", r"murder",
)
WEAPON = alt(
    r"faca", r"facas", r"facao", r"arma", r"armas", r"revolver", r"taco", r"pau", r"barra de ferro", r"bala",
    r"knife", r"knives", r"gun", r"guns", r"bat", r"pipe", r"machete",
)
TARGET_PLACE = alt(
    r"predio", r"prefeitura", r"escola", r"igreja", r"clinica", r"hospital", r"mesquita", r"sinagoga",
    r"building", r"clinic", r"school", r"church", r"mosque", r"synagogue", r"office", r"house", r"casa",
)

# self-harm
DOSE_ITEM = alt(
    r"comprimid\w*", r"remedi\w*", r"rivotril", r"paracetamol", r"pilulas?", r"capsulas?", r"pills?",
    r"sleeping pills", r"tablets?", r"tylenol", r"dosis", r"doses?",
)
NOT_WAKE = alt(
    r"nao acordar(?: mais)?", r"nunca mais acordar", r"morrer", r"nao acordo mais", r"apagar de vez",
    r"(?:to )?not wake up", r"never wake up", r"die", r"dying", r"end it", r"be fatal", r"overdose",
)
SELF_METHOD = alt(
    r"(?:altura|andar|andares|predio|ponte)\b.{0,60}(?:fatal|morrer|certeza|morte)",
    r"(?:height|floor|bridge|building)\b.{0,60}(?:fatal|die|certain|death)",
    r"como (?:me )?(?:matar|suicidar|cortar)(?: sem)?", r"(?:how|best way) (?:to|do i|can i) (?:kill myself|end my life|cut)",
    r"me cortar sem", r"esconder (?:os )?cortes", r"hide (?:my |the )?(?:cuts|scars)",
    r"(?:vou|quero) (?:me matar|sumir pra sempre|acabar com tudo)", r"i (?:want|wanna|am going) to (?:kill myself|die|end it)",
    r"faz logo", r"just do it already",
)
ED = alt(
    r"#?thinspo\w*", r"#?pro-?ana", r"#?pro-?mia", r"#?projeto ?\d+ ?kg", r"meta ?\d+ ?kg",
    r"(?:so|apenas|only) (?:agua|water)\b.{0,40}(?:desmai\w*|faint\w*|funcionando|working)",
    r"(?:se|if you) (?:desmaiar|faint)\w*.{0,30}(?:sinal|funcionando|working|means)",
    r"\d+ dias? (?:so|sem comer|de jejum)", r"day \d+ of only",
)

# sexual
MINOR = alt(
    r"menin[oa]s?", r"crianc\w*", r"garotinh\w*", r"novinh\w*", r"adolescentes?", r"(?:de )?1[0-7] anos",
    r"(?:de )?[5-9] anos", r"minors?", r"kids?", r"child(?:ren)?", r"little girls?", r"little boys?",
    r"1[0-7] ?(?:yo|y/o|year old|years old)", r"[5-9] ?(?:yo|year old)", r"underage", r"(?:a|uma) (?:girl|menina) de 1[0-7]",
)
SEX_ACT = alt(
    r"nudes?", r"pelad[oa]s?", r"sem roupa", r"foto intima", r"fotos intimas", r"pack", r"transar", r"sexo",
    r"sex", r"naked", r"without clothes", r"nude pics?", r"explicit", r"porn\w*", r"intimate (?:pics|photos)",
)
SEX_REQUEST = alt(
    r"(?:manda|mande|me manda|envia|send|sends?) (?:uns? |umas? |me |some |your )?(?:nudes?|fotos? (?:pelad\w*|sem roupa|intima\w*)|pics? (?:without clothes|naked)|nude pics?)",
    r"(?:vendo|vende-se|selling|sell|compro|buying) (?:meu |my |o |a )?(?:pack|packs|fotos? intimas?|nudes|explicit (?:video|photo|pic)s?(?: pack)?|(?:video|photo) pack)",
    r"(?:my |meu )?explicit (?:video|photo|pic)s? pack", r"pack (?:de )?(?:fotos?|videos?) (?:intim\w*|pelad\w*|hot)",
    r"chama no pv.{0,20}pix", r"sei que (?:voce|vc) quer", r"i know you want (?:it|to)",
)

# illegal
HOWTO = alt(
    r"como (?:faz|fazer|faco|eu faco|monta|montar|fabrica|fabricar|produz|produzir|cozinhar|sintetizar|preparar)",
    r"passo a passo", r"me ensina", r"ensina(?:r)? a", r"receita de", r"tutorial", r"how (?:to|do i|do you|can i)",
    r"step by step", r"instructions? (?:for|to)", r"recipe", r"exact ratios?", r"qual a proporcao", r"guide to",
)
EXPLOSIVE = alt(
    r"bombas?", r"bomb", r"pipe bomb", r"explosiv\w*", r"polvora", r"gunpowder", r"dinamite", r"dynamite",
    r"molotov", r"granada", r"grenade", r"tnt", r"napalm", r"detonador", r"detonator",
)
DRUG_MAKE = alt(
    r"metanfetamina", r"meth", r"cocaina", r"crack", r"lsd", r"mdma", r"ecstasy", r"heroina", r"heroin",
    r"fentanil", r"fentanyl", r"lanca perfume", r"oxi",
)
FRAUD = alt(
    r"clonar (?:o |um )?cart\w*", r"clone (?:a )?(?:credit )?cards?", r"chupa-?cabras?", r"skim(?:ming|mer)?\b",
    r"(?:mensagem|email|e-mail|sms|site|pagina|boleto|whatsapp) (?:de banco |do banco |bancari[oa] )?fals[oa]",
    r"(?:fake|spoofed|phishing) (?:bank )?(?:email|e-mail|site|page|message|login|sms)", r"phishing",
    r"forca bruta", r"brute[ -]?forc\w*", r"invadir (?:a |o )?(?:conta|instagram|whatsapp|email|celular|sistema)",
    r"hack(?:ear)? (?:into |o |a )?(?:his|her|someone'?s|my ex'?s|the|conta|instagram|whatsapp|email|account)",
    r"lavar dinheiro", r"lavagem de dinheiro (?:sem|pra|para)", r"launder(?:ing)? money", r"cartao clonado",
    r"dados de cartao", r"card dumps?", r"carding", r"laranja(?:s)? (?:pra|para) (?:receber|sacar)",
    r"arma sem registro", r"gun without (?:a )?(?:background check|serial)", r"ghost gun", r"raspar (?:a )?numeracao",
    r"file off the serial", r"keylogger (?:na|no|on) (?:\w+ )?(?:da|do|of) ", r"senha (?:da|do) (?:minha ex|meu ex|vizinh\w*)",
)
CRIME_TOPIC = alt(
    r"bombas?", r"bomb", r"drogas?", r"drugs?", r"hack\w*", r"golpes?", r"scams?", r"fraude", r"fraud",
    r"maconha", r"weed", r"traficante", r"dealer", r"roubar", r"steal", r"furtos?", r"contrabando", r"smuggl\w*",
)

# privacy
CPF = r"\b\d{3}\.?\d{3}\.?\d{3}-?\d{2}\b"
SSN = r"\b\d{3}-\d{2}-\d{4}\b"
CARD = r"\b(?:\d{4}[ -]?){3}\d{4}\b"
PHONE = r"(?:\(?\d{2}\)?\s?)?9?\d{4}-\d{4}\b"
PII_WORD = alt(
    r"cpf", r"rg", r"ssn", r"social security", r"endereco", r"address", r"telefone", r"celular", r"phone(?: number)?",
    r"senhas?", r"passwords?", r"dados bancarios", r"bank details", r"salario", r"salary", r"prontuario",
    r"medical records?", r"e-?mail pessoal", r"personal email",
)
LOCATE = alt(
    r"(?:descobr\w*|sabe|acha|achar|encontrar|encontra|puxar|puxa) (?:onde|o endereco|endereco)",
    r"onde (?:ela|ele|essa \w+|esse \w+|a \w+|o \w+) mora", r"onde mora",
    r"(?:find|found|know|look up|lookup|get) (?:out )?(?:where (?:she|he|they|this \w+ \w+|this \w+) lives?|(?:her|his|their|the) (?:home )?address)",
    r"where (?:she|he|this \w+(?: \w+)?) lives", r"home address (?:and|of|&)",
    r"(?:puxar|puxa|levantar|consultar) (?:o )?(?:endereco|telefone|dados)",
    r"(?:look up|lookup|pull|dig up) (?:the )?(?:home )?(?:address|phone|info|details)",
)
EXPOSE = alt(
    r"(?:divulg\w*|espalh\w*|posta|postar|publica\w*|vaza\w*|expoe|expor|manda(?:m)?|compartilh\w*)",
    r"(?:post|share|leak|spread|dox|expose|publish)(?:ed|ing|s)?",
)
DUMP = alt(
    r"planilha (?:com|de)\b.{0,60}(?:cpf|salario|senha|endereco|telefone)",
    r"spreadsheet (?:with|of)\b.{0,80}(?:ssn|salary|salaries|password|address|phone)",
    r"(?:peguei|baixei|copiei|vazei|grabbed|downloaded|copied|leaked|dumped) (?:it |isso )?(?:do|da|from) (?:the )?(?:drive|servidor|server|banco|database|sistema|shared drive)",
    r"(?:lista|list|dump) (?:de|of|with) (?:senhas|passwords|cpfs|ssns|emails)",
    r"(?:vazament\w*|leak\w*) (?:de|of) (?:senhas|passwords) (?:aqui|here|segue)",
)

VIOLENT_WORD = alt(
    r"matar", r"kill", r"murder", r"assassin\w*", r"esfaque\w*", r"stab\w*", r"tiro", r"shoot\w*", r"massacre",
    r"espancar",
)
SELF_HARM_WORD = alt(
    r"suicid\w*", r"se matar", r"kill myself", r"self-?harm", r"automutila\w*", r"autolesao", r"overdose",
    r"me cortar", r"cutting", r"jejum", r"fasting", r"anorex\w*",
)
SEX_WORD = alt(r"nudes?", r"sexo", r"sex", r"porn\w*", r"pelad[oa]", r"naked", r"transar", r"onlyfans", r"explicit")
HOMEMADE = alt(r"pipe bomb", r"bomba caseira", r"molotov", r"cano (?:pra|para) virar bomba", r"explosivo caseiro")


def _rules() -> list[Rule]:
    spec: list[tuple[str, str, str, str]] = [
        # hate
        ("hate.dehumanise", "hate", "high", both(GROUP, DEHUMANISE, 8)),
        ("hate.exclude", "hate", "high", both(GROUP, EXCLUDE, 8)),
        ("hate.slur", "hate", "high", rf"\b{SLUR}\b"),
        ("hate.go_back", "hate", "high", alt(
            r"go back (?:to|where) (?:your|ur|you) (?:country|came from)", r"your kind",
            r"volta (?:pro|pra|para) (?:teu|seu|sua) (?:pais|terra)", r"gente da sua laia",
        )),
        ("hate.group_topic", "hate", "low", rf"\b{GROUP}\b.{{0,60}}\b(?:todos?|todas?|tudo|every single|all of them|are all)\b"),
        # harassment
        ("harassment.direct_insult", "harassment", "high", both(YOU, INSULT, 2)),
        ("harassment.silence_insult", "harassment", "high", both(SILENCE, INSULT, 4)),
        ("harassment.pile_on", "harassment", "high", rf"\b{PILE_ON}"),
        ("harassment.mention_attack", "harassment", "high", rf"@\w+\b.{{0,40}}\b(?:{SILENCE}|go back|ninguem|nobody)"),
        ("harassment.directed_slur", "harassment", "high", rf"\b(?:o|ô|oh|seu|sua|you|hey|ei)\W+{SLUR}\b"),
        ("harassment.silence", "harassment", "low", rf"\b{SILENCE}\b"),
        ("harassment.mock_looks", "harassment", "low", rf"\b{MOCK_LOOKS}"),
        ("harassment.insult", "harassment", "low", rf"\b{INSULT}\b"),
        # violence
        ("violence.threat_pt", "violence", "high", rf"\b(?:vou|vamo|vamos|a gente vai|eu vou) (?:te |lhe )?{HARM_VERB_PT}\b"
         rf"(?!\W+(?:o|um|uns|a|os) (?:processo|bug|servidor|tempo|aula|saudade))"),
        ("violence.threat_en", "violence", "high", rf"\b(?:i'?ll|i will|i'?m going to|im gonna|i'?m gonna|we'?ll|we will) {HARM_VERB_EN} (?:you|u|him|her|them|his|her)\b"),
        ("violence.stalk", "violence", "high", alt(
            r"sei onde (?:voce|vc|tu) (?:mora|estaciona|estuda|trabalha)", r"sei q(?:ue)? (?:tu|vc|voce) pega",
            r"i know (?:where you (?:live|park|work)|which bus you)", r"book an ambulance", r"vai apanhar",
            r"vai se arrepender", r"te (?:pegar|esperar) na saida", r"you'?ll regret",
        )),
        ("violence.arson", "violence", "high", both(alt(r"(?:meter|tacar|botar|atear|por) fogo", r"burn (?:\w+ ){0,3}down", r"set fire"), TARGET_PLACE, 5)),
        ("violence.people_inside", "violence", "high", alt(r"com todo mundo dentro", r"with (?:the )?(?:staff|people|everyone|them|kids) (?:still )?inside")),
        ("violence.armed_call", "violence", "high", alt(
            rf"(?:leva|levar|traz|trazer|bring|grab) (?:\w+ ){{0,2}}{WEAPON}\b.{{0,40}}(?:protesto|protest|ato|jogo|game|escola|school|sangrar|bleed)",
            r"(?:e|is) (?:pra|para) sangrar", r"make (?:them|him|her) bleed", r"storm the \w+",
            r"break (?:his|her|their|your) (?:legs?|arms?|face|neck)", r"quebrar (?:as|a|o) (?:pernas?|cara|bracos?) (?:dele|dela|deles)",
        )),
        ("violence.kill_call", "violence", "high", rf"\b(?:alguem|somebody|someone) (?:devia|deveria|should|needs to|precisa) \w+"
         rf"(?:\W+\w+){{0,3}}\W+(?:matar|kill|shoot|burn|esfaquear|stab|bomb|explodir|atirar)"),
        ("violence.topic", "violence", "low", rf"\b{VIOLENT_WORD}\b"),
        # self-harm
        ("self_harm.dose", "self_harm", "high", both(DOSE_ITEM, NOT_WAKE, 10)),
        ("self_harm.method", "self_harm", "high", SELF_METHOD),
        ("self_harm.eating_disorder", "self_harm", "high", ED),
        ("self_harm.topic", "self_harm", "low", rf"\b{SELF_HARM_WORD}\b"),
        # sexual
        ("sexual.minor", "sexual", "high", both(MINOR, SEX_ACT, 12)),
        ("sexual.request", "sexual", "high", SEX_REQUEST),
        ("sexual.topic", "sexual", "low", rf"\b{SEX_WORD}\b"),
        # illegal
        ("illegal.explosive", "illegal", "high", both(HOWTO, EXPLOSIVE, 10)),
        ("illegal.explosive_build", "illegal", "high", rf"\b(?:build|make|monta|montar|fazer|faz) (?:\w+ ){{0,3}}{HOMEMADE}"),
        ("illegal.drug_synthesis", "illegal", "high", both(alt(HOWTO, r"cook", r"cozinhar", r"fazer", r"produzir", r"sintetizar", r"com remedio", r"from cold medicine", r"ratios?", r"proporcao"), DRUG_MAKE, 8)),
        ("illegal.fraud", "illegal", "high", FRAUD),
        ("illegal.topic", "illegal", "low", rf"\b{CRIME_TOPIC}\b"),
        # privacy
        ("privacy.locate", "privacy", "high", LOCATE),
        ("privacy.dump", "privacy", "high", DUMP),
        ("privacy.id_number_lookup", "privacy", "high", both(alt(CPF, SSN), alt(r"puxar", r"puxa", r"descobrir", r"consulta\w*", r"look up", r"lookup", r"find", r"whoever", r"de quem", r"divulg\w*", r"espalh\w*", r"post", r"mora", r"lives", r"address", r"endereco", r"telefone", r"phone"), 12)),
        ("privacy.expose_pii", "privacy", "high", both(EXPOSE, alt(r"(?:o |a |her |his |their |the )?(?:endereco|address|telefone|phone number|cpf|ssn|senha|password)s?(?: dela| dele| of)?"), 4)),
        ("privacy.id_number", "privacy", "low", alt(CPF, SSN, CARD)),
        ("privacy.topic", "privacy", "low", rf"\b{PII_WORD}\b"),
    ]
    return [Rule(name, cat, conf, re.compile(rx)) for name, cat, conf, rx in spec]


RULES: list[Rule] = _rules()

# A high hit in these categories becomes low when the text also shows one of these contexts.
_TEACH = alt(
    r"aula", r"curso", r"modulo", r"aprender", r"identifica-?l\w*", r"exemplos? de",
    r"lesson", r"course", r"module", r"learn", r"teach\w*", r"so you learn", r"to flag", r"como reconhecer",
    r"how to (?:spot|recognize|recognise|report)", r"para (?:denunciar|identificar|remover)", r"remove-?las",
    r"discursos? que", r"speeches? that", r"citacao", r"quote\w*", r"cita(?:r|mos|ndo)?",
)
_HISTORY = alt(
    r"hist[oó]ri\w*", r"history", r"historical", r"guerra", r"war", r"battle", r"batalha", r"holocausto",
    r"holocaust", r"genocidio", r"genocide", r"escravidao", r"slavery", r"\b1[0-9]{3}\b", r"\b20[0-2][0-9]\b",
)
_FICTION = alt(
    r"filme", r"movie", r"film", r"livro", r"(?:the|a|this|that|his|her) book", r"romance", r"novel", r"serie", r"series", r"episodio",
    r"episode", r"enredo", r"plot", r"protagonista", r"hero", r"personagem", r"character", r"no jogo", r"in the game",
)
_NEWS = alt(
    r"noticia", r"news", r"reportagem", r"julgamento", r"trial", r"stf", r"tribunal", r"court", r"policia",
    r"police", r"operacao", r"operation", r"preso", r"arrested", r"relatorio", r"report", r"pesquis\w*", r"study",
    r"research", r"corrigid\w*", r"patched", r"fixed", r"vulnerab\w*", r"cve-",
)
_CARE = alt(
    r"cvv", r"\b188\b", r"\b988\b", r"lifeline", r"crisis", r"crise", r"prevenc\w*", r"prevent\w*",
    r"sinais de alerta", r"warning signs", r"psicolog\w*", r"psiquiatr\w*", r"counsel\w*", r"therap\w*",
    r"terap\w*", r"procure ajuda", r"seek help", r"you'?re not alone", r"nao esta sozinh\w*", r"recupera\w*",
    r"recovery", r"pronto-socorro", r"emergency room", r"sintomas", r"symptoms", r"tratamento", r"treatment",
    r"bula", r"clinic\w*", r"medic\w*", r"saude", r"health",
)
_SEX_ED = alt(
    r"educacao sexual", r"sex(?:ual)? education", r"camisinha", r"preservativo", r"condoms?", r"\bists?\b",
    r"\bstis?\b", r"\bstds?\b", r"saude reprodutiva", r"reproductive health", r"anatomia", r"anatomy",
    r"biologia", r"biology", r"contracep\w*",
)
_LAW = alt(
    r"lgpd", r"gdpr", r"base legal", r"lawful basis", r"ficticio", r"fictitious", r"fake data", r"dados ficticios",
    r"placeholder", r"exemplo", r"example", r"nos testes", r"in tests", r"anonimiz\w*", r"anonymi[sz]\w*",
    r"000\.000\.000-00", r"sac\b", r"ouvidoria", r"customer service",
)



def _words(*fragments: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){alt(*fragments)}(?!\w)")


SAFE_CONTEXT: dict[str, re.Pattern[str]] = {
    "hate": _words(_TEACH, _HISTORY, _NEWS),
    "harassment": _words(_TEACH, _FICTION),
    "violence": _words(_HISTORY, _FICTION, _NEWS, _TEACH),
    "self_harm": _words(_CARE),
    "sexual": _words(_SEX_ED),
    "illegal": _words(_NEWS, _FICTION, _TEACH, _HISTORY),
    "privacy": _words(_LAW),
}

# Idioms and technical jargon that look violent or crude but are not; blanked before matching.
HARMLESS = re.compile(
    alt(
        r"mat(?:ar|a|e|ei|ou|ando) (?:o|os|esse|este|aquele|um) (?:processo|processos|job|jobs|kernel|container|servico|pid|task|worker|bug)",
        r"kill(?:ed|ing|s)? (?:the |that |this |a |all )?(?:process|processes|job|jobs|kernel|container|service|pid|task|worker|session|tab|server)",
        r"kill -\d+", r"kill two birds", r"mat(?:ar|ei|ou) dois coelhos", r"kill(?:ing|ed)? it", r"matar a saudade",
        r"matar (?:a )?aula", r"matar o tempo", r"morr\w* de rir", r"matar de (?:tanto )?rir", r"dying of laughter", r"dying to", r"to die for",
        r"morrendo de (?:fome|sono|rir|vontade|saudade|calor|frio)", r"derrub\w* o servidor", r"take (?:down|out) the server",
        r"shoot (?:me )?(?:an? )?(?:email|message|question)", r"manda bala", r"bomba de (?:agua|calor|gasolina)",
        r"bomb(?:ed)? the (?:exam|test|interview)", r"explod\w* de (?:felicidade|alegria)", r"data dump",
        r"dump (?:the )?(?:table|database schema)", r"pack de (?:exercicios|dados|slides|notebooks)", r"brute force (?:search|algorithm|approach|solution)",
        r"forca bruta (?:e|como) (?:algoritmo|abordagem|busca)",
    )
)
