"""Redaction of personal data from a visitor's message before it is kept for staff.

People write to this service about crimes done to them, often with their phone number, their address or the
name of the person who harmed them. A message the assistant could not answer is kept only after `redact` has
replaced each piece of personal data with a placeholder:

    [PHONE]     phone numbers in any UK or international format, even invalid but plausible ones
    [EMAIL]     e-mail addresses, also spelt out ("jo at gmail dot com", "jo(at)gmail(dot)com")
    [URL]       web addresses: http(s)://..., www...., bare domains such as example.co.uk/x or bit.ly/x
    [HANDLE]    social-media handles: @jo_smith99, or "insta is jo_smith99", "username is kittykat"
    [POSTCODE]  full UK postcodes in any case and spacing; Gloucestershire outward codes (GL1-GL56) alone;
                other outward codes after "postcode", "live in" and the like
    [ADDRESS]   a house number and street ("12 Acacia Avenue", "flat 3, 14b mill rd"); a capitalised street
                name ("Acacia Avenue"); any street after "live on", "moved to" and the like
    [PLATE]     current-format vehicle registrations ("AB12 CDE")
    [NUMBER]    any other run of five or more digits, spaces, dots, dashes or brackets between them allowed
                (reference and account numbers, amounts such as "£15,000"), National Insurance and prison
                numbers; dates, year ranges and short service numbers such as 116 123 are kept
    [NAME]      names: the ones the caller already knows (`names`), and names found by cues and capitals

`phonenumbers` finds the phone numbers: its matcher, at the POSSIBLE leniency, takes numbers that are the right
shape even when they are not allocated, so a mistyped number still goes; its short-number data tells 116 123 or
999 from a reference number. Nothing in the pinned environment does the rest, and the general PII scrubbers find
names with a language model this assistant does not have, so the rest is written here by hand: regular
expressions for the shaped data, word lists and cues for the names.

Names are found by cues and capitals because the NLU pipeline has no named-entity model: a word after "my name
is", "called", "call me", "ask for", "this is", "it's", "I'm", an honorific (Mr, Mrs, Dr, PC...) or a relation
("my son", "my ex", "my mum's boyfriend"...) when that word is not an ordinary English word; a capitalised word
in the middle of a sentence that is not an ordinary word, a month or day, or a place or organisation this
service deals with; a capitalised word opening a sentence when it stands alone, has 's, or an action follows
it ("Dave hit me"); and every other place a word found as a name appears in the message.

Honestly, this misses names that carry none of those signs: an all-lower-case name with no cue ("i think jo did
it", "i was with sarah") survives, and so does a capitalised name opening a sentence with no action after it
("Jo is my ex"), a lower-case name after a possessive ("my mum's dave"), a name that is also an ordinary word
written in lower case ("my son will"), or a street name in lower case with no house number and no "live on".
Dates are kept, dates of birth included. It errs the other way too: an uncommon word after a cue, or an
uncommon capitalised word mid-sentence ("Justice League"), becomes [NAME], which staff can read past.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, List, Optional, Set, Tuple

import phonenumbers
from phonenumbers import Leniency, PhoneNumberMatcher, shortnumberinfo

__all__ = ["PLACEHOLDERS", "redact", "contains_personal_data"]

PLACEHOLDERS = ("[PHONE]", "[EMAIL]", "[URL]", "[HANDLE]", "[POSTCODE]", "[ADDRESS]", "[PLATE]", "[NUMBER]", "[NAME]")
_PLACEHOLDER_WORDS = frozenset(p.strip("[]") for p in PLACEHOLDERS)


def _words(text: str) -> frozenset:
    return frozenset(text.split())


# Ordinary English as these visitors write it: function words, the verbs and feelings of someone telling what
# happened, family words, the service's own vocabulary, and text-speak. A few hundred words rather than a
# dictionary, on purpose: a word missing here only costs readability (it may become [NAME] after a cue), while a
# name that is also a dictionary word ("Mark", "Rose", "Jade") stays redactable because it is not listed.
COMMON_WORDS = _words(
    """
    a an the and or but if so because us we cos coz cuz bc as at by for from in into of off on onto out over to up upon
    with without within about above after again against all am any are aren't arent be been before being below
    between both can can't cant cannot could couldn't couldnt did didn't didnt do does doesn't doesnt doing don't
    dont down during each few further had hadn't hadnt has hasn't hasnt have haven't havent having he he'd he'll
    he's hes her here here's hers herself him himself his how how's i i'd i'll i'm i've id ill im ive is isn't
    isnt it it'll it's its itself let's lets me more most must mustn't my myself no nor not now once only other
    ought our ours ourselves own same she she'd she'll she's shes should shouldn't shouldnt than that that's thats
    their theirs them themselves then there there's theres these they they'd they'll they're they've theyre this
    those through thru too under until very was wasn't wasnt we we'd we'll we're we've were weren't werent what
    what's whats when when's where where's which while who who's whos whom whose why why's will won't wont would
    wouldn't wouldnt you you'd you'll you're you've youre your yours yourself yourselves u ur ya yeah yea yes yep
    yup nope ok okay k kk hi hello hey hiya thanks thank thx ty please pls plz sorry just also still even really
    actually maybe perhaps already ever never always sometimes often back away around anyway anyways anyone
    anybody anything anywhere someone somebody something somewhere everyone everybody everything nothing nobody
    none much many lot lots some such like well quite rather almost enough yet else since though although whether
    unless till til etc via per may might shall wanna gonna gotta dunno innit aint ain't idk tbh lol omg btw fyi
    asap ppl msg txt tho wat wot abt pm am x xx xxx ps re vs oh ah um erm hmm sure yours bye cheers ta mate
    guys folk folks kinda sorta outta lotta ive hed shed wed were whatever whoever whenever wherever however
    one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen
    eighteen nineteen twenty thirty forty fifty hundred thousand million half first second third once twice
    is was were be been being are has have had do does did done go goes went gone going get gets got getting
    gotten make makes made making say says said saying tell tells told telling know knows knew known knowing
    think thinks thought thinking want wants wanted wanting need needs needed needing feel feels felt feeling
    come comes came coming take takes took taken taking see sees saw seen seeing look looks looked looking give
    gives gave given giving find finds found finding use uses used using try tries tried trying ask asks asked
    asking work works worked working seem seems seemed leave leaves left leaving call calls called calling keep
    keeps kept keeping let help helps helped helping talk talks talked talking start starts started starting
    stop stops stopped stopping show showed shown hear heard hearing play played run ran running move moved
    moving live lives lived living believe believed happen happens happened happening put puts bring brought
    hit hits hitting hurt hurts hurting punch punched punching kick kicked kicking threaten threatens threatened
    threatening attack attacks attacked attacking assault assaulted steal stole stolen stealing rob robbed
    robbing burgle burgled burgling break broke broken breaking smash smashed damage damaged abuse abused abusing
    harass harassed harassing stalk stalked stalking bully bullied bullies scam scammed text texts texted texting
    message messages messaged messaging follow follows followed following shout shouted shouting swear swore
    sworn push pushed pushing grab grabbed grabbing rape raped grope groped touch touched beat beats beaten
    beating kill killed die died dead lie lied lies lying cheat cheated drink drank drinking drunk drive drove
    driving crash crashed send sends sent sending post posted posting write wrote written writing report
    reported reporting arrest arrested charge charged convicted sentenced release released jailed serve served
    serving meet meets met meeting speak spoke speaking apologise apologised apologize apologized apology
    explain explained understand understood forgive forgave forgiven wait waited waiting hope hoped hoping wish
    wished worry worries worried worrying scared afraid frightened terrified upset angry sad anxious nervous
    depressed stressed confused lonely ashamed embarrassed guilty happy glad fine alright good bad awful horrible
    really actually literally honestly only nearly probably definitely basically constantly recently apparently
    obviously seriously totally completely absolutely clearly finally suddenly usually normally currently
    eventually regularly repeatedly early likely lovely lonely silly ugly daily weekly
    mr mrs ms mx dr miss prof sgt cllr
    terrible hard difficult easy scary safe unsafe free private confidential anonymous possible impossible able
    allowed sure unsure true false wrong right fair unfair best worst better worse new old young little big
    small long short next last other another different own whole real serious urgent important interested
    ready late early soon later still gutted heartbroken devastated traumatised shaken broke skint poor ill
    sick tired exhausted alone together mad crazy stupid silly weird strange normal same thing things stuff
    way ways part bit kind sort type lot fault blame sorry shocked furious livid fuming rubbish shit crap bloody
    fucking fuck damn sucks ridiculous disgusting pathetic unbelievable unacceptable horrific traumatic
    scary creepy nasty violent aggressive abusive threatening worried weird cruel rude mean racist sexist
    homophobic transphobic drunk high
    crime crimes victim victims offender offenders harm harmed person people someone man men woman women boy boys
    girl girls lad lads guy kid kids child children baby family son sons daughter daughters husband wife partner
    ex boyfriend girlfriend bf gf brother brothers sister sisters mum mums mom moms mother dad dads father parent
    parents neighbour neighbours neighbor neighbors friend friends mates nephew niece cousin uncle aunt auntie nan
    gran grandma grandad granddad grandson granddaughter stepdad stepmum stepson stepdaughter colleague boss
    landlord teacher carer school college uni work job home house flat car phone police officer officers court
    prison probation jail justice restorative process meeting conference letter service services support advice
    information info question questions case time times day days week weeks month months year years hour hours
    minute minutes ago today tomorrow yesterday tonight morning afternoon evening night weekend age aged
    burglary theft assault violence domestic hate incident incidents injury injuries money insurance statement
    evidence trial sentence conviction record records solicitor lawyer judge magistrate magistrates facilitator
    staff team volunteer email e-mail number numbers address name names contact form chat bot website online
    office shop pub street road town city area estate village park car bike van bus train station hospital
    harassment stalking bullying fraud burglary robbery vandalism arson murder manslaughter grooming blackmail
    racism discrimination trespass criminal shoplifting mugging hacking trolling revenge exploitation neglect
    cruelty sexual physical emotional mental health anxiety depression ptsd trauma therapy counselling
    counsellor compensation apology closure answers answer reply response contact process cost costs price
    round social worker workers council hear heard owner group course programme scheme volunteers session
    sessions option options step steps idea point reason place places face door window garden fence room
    middle end side front outside inside nearby next-door downstairs upstairs dog dogs cat cats puppy kitten pet
    pets horse instead along spelt spelled rang sit join attend stay visit watch listen refer apply sign fill
    evict b cum bin badly situation problem problems issue issues dispute trouble deaf blind disabled dyslexic
    autistic pregnant homeless unemployed vulnerable elderly disabled sceptical skeptical asleep awake owed
    builder plumber electrician mechanic driver cleaner nurse doctor journalist student parent coach goodbye dumb
    toxic tragic manic panic mediation mediator counsellors facilitators bystander witness witnesses hr manager
    professional employer employee resident tenant councillor worker
    threw bit spat stuck struck shot fought caught rode sold bought spent lost won sang stood sat slept woke
    swung tore wore bent burnt dug hid led fed fled held meant paid shook shut split spread taught wept stabbed
    turns comes goes shows posts walks bangs knocks screams laughs stares waits watches sits stands smokes deals
    owes blames denies claims turned turn shows sees gets makes takes puts tries wants needs thinks feels
    """
)
CALENDAR = _words(
    """
    january february march april may june july august september october november december jan feb mar apr jun
    jul aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu
    thur thurs fri sat sun
    """
)
# Places and organisations this service names every day; capitalised, they are not people.
ALLOWED_PROPER = _words(
    """
    restorative gloucestershire gloucester cheltenham stroud tewkesbury cotswolds cotswold forest dean police
    victim victims support samaritans crown court courts prison probation uk gb england britain british english
    wales welsh scotland ireland europe facebook twitter instagram whatsapp snapchat tiktok youtube google x
    nhs rj cps pcso pcsos asb gp cctv dv isva idva ptsd adhd ocd asd tv id dm dms sms ok justice service
    magistrates youth family county constabulary council citizens advice aid childline refuge action fraud
    crimestoppers bristol london birmingham swindon worcester hereford oxford cirencester lydney coleford
    cinderford dursley tetbury winchcombe newent quedgeley stonehouse nailsworth severn christmas easter covid
    god lord mum dad nan sir madam trust hospital royal infirmary university college school mp pc dc ds
    universal credit mind women's womens domestic abuse hate crime office team staff hub centre center hmp hmps
    zoom teams messenger insta snap gmail hotmail outlook icloud imessage amazon ebay tesco asda aldi lidl
    morrisons sainsbury's sainsburys greggs mcdonald's mcdonalds kfc
    poland polish romania romanian lithuania lithuanian bulgaria bulgarian pakistan pakistani india indian
    bangladesh bangladeshi somalia somali nigeria nigerian jamaica jamaican ukraine ukrainian syria syrian
    afghanistan afghan iran iranian iraq iraqi eritrea eritrean sudan sudanese china chinese turkey turkish
    portugal portuguese spain spanish france french germany german italy italian irish scottish african asian
    caribbean european muslim muslims christian jewish sikh hindu islam islamic black white gypsy traveller
    travellers roma lgbt lgbtq lgbtq+ gay lesbian bi trans punjabi urdu bengali arabic farsi kurdish tigrinya
    mandarin cantonese hindi gujarati
    oxfordshire wiltshire worcestershire herefordshire warwickshire somerset devon cornwall dorset avon
    monmouthshire kent essex sussex surrey yorkshire lancashire manchester liverpool leeds newcastle sheffield
    nottingham leicester coventry cardiff newport swansea bath plymouth exeter southampton portsmouth reading
    cambridge brighton glasgow edinburgh belfast york
    kingsholm matson tuffley podsmead barton tredworth hucclecote abbeydale abbeymead longlevens hardwicke
    churchdown brockworth cleeve hesters whaddon prestbury leckhampton charlton quays docks eastwood leyhill
    code community trigger offending commissioner act linkedin gcse gcses iopc miam camhs sarc mash ehcp
    """
)
# Also ordinary words or months, but first names when written with a capital straight after a strong cue.
ALSO_FIRST_NAMES = _words(
    """
    will may june april august hope grace mark rose bill jack frank joy faith dawn sue pat rob art guy ray max
    summer robin holly ivy lily daisy ruby amber jade penny sky chase grant drew sunny bob dean jean
    """
)
# Of those, the ones that are still ordinary words when written in lower case after a cue ("my son will be 5").
_LOWER_CASE_ORDINARY = _words("will may hope")
# Ordinary words that are common surnames, taken with a capitalised first name before them ("Nathan Price").
_ALSO_SURNAMES = _words("price young long little short day good best hope house park")
_FIRST_NAMES_ENDING_IN_S = _words(
    """
    james charles miles jules agnes frances dolores les des wes jonas elias silas tobias douglas thomas nicholas
    amos niles andreas mathias matthias lukas nikolas kostas yves
    """
)
# Names that end like a verb, an adverb or an adjective, so they are not taken for one after a cue.
_NAMES_THAT_LOOK_INFLECTED = _words(
    "ahmed mohammed mohamed muhammed reed fred ted ned jed sterling irving ling clive olive trish ernest forrest "
    "everest clement"
)
# Allowed places that are also first names: after a cue they are names ("my son Dean").
_ALLOWED_ALSO_NAMES = _words("dean")

# The words that usually follow a person who did something, so a name opening a sentence is caught ("Dave hit me").
_ACTIONS = _words(
    """
    hit hits keeps kept threatened threatens attacked attacks assaulted stole steals broke smashed punched
    punches kicked kicks texted texts messaged messages called calls rang rings sent sends said says told tells
    lives knows knew refuses refused harassed harasses stalked stalks abused abuses raped robbed burgled scammed
    bullied bullies hurt hurts followed follows shouted shouts swore pushed grabbed beat beats won't wont
    doesn't didn't here
    """
)
_GREETINGS = _words("hi hello hiya hey heya hii morning afternoon evening yes yeah ok okay so and but oh well sorry")
_AFTER_INTRODUCTION = _words("and from here speaking btw again my i im i'm hi hello thanks x xx")

_RELATIONS = _words(
    """
    son daughter ex husband wife partner boyfriend girlfriend bf gf brother sister mum mom mother dad father
    parent neighbour neighbor friend mate bestie nephew niece cousin uncle aunt auntie nan nana nanna gran
    grandma granny grandad granddad grandpa grandson granddaughter stepson stepdaughter stepdad stepmum
    stepfather stepmother child kid baby landlord landlady boss colleague manager teacher carer flatmate
    housemate lodger fiance fiancee fiancé fiancée hubby missus wifey sibling twin
    """
)
_RELATION_MODIFIERS = _words(
    """
    ex x step former late old older younger little big best eldest oldest youngest new other current
    soon-to-be baby half
    """
)
_DETERMINERS = _words("my our his her their your ur me mi")

# Cue phrases, as lower-case tokens ending right before the name. Strong cues are followed by a name more often
# than not; weak ones ("this is", "it's", "I'm") mostly by something else, so they ask more of the next word.
_STRONG_CUES = tuple(
    tuple(cue.split())
    for cue in (
        "name is",
        "name was",
        "name's",
        "names",
        "my names",
        "his names",
        "her names",
        "called",
        "named",
        "call me",
        "known as",
        "goes by",
        "aka",
        "ask for",
        "speak to",
    )
)
_WEAK_CUES = tuple(
    tuple(cue.split())
    for cue in ("it's me", "its me", "it is me", "this is me", "this is", "it's", "its", "i'm", "im", "i am")
)
# Titles: any case for the common ones; "Miss" and police ranks only as titles, written with a capital.
_HONORIFICS = _words("mr mrs ms mx dr prof cllr sgt")
_CAPITALISED_HONORIFICS = _words("Miss PC DC DS Sergeant Inspector Officer Constable Detective Councillor Professor")

_TOKEN = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'"})


def _low(word: str) -> str:
    return word.translate(_APOSTROPHES).lower()


# --- web addresses, e-mail addresses, handles --------------------------------------------------------------------

_TRAILING_PUNCTUATION = ".,;:!?)]}'\"’”"
_SCHEME_URL = re.compile(r"\b(?:https?|ftp)://\S+|\bwww\.\S+", re.IGNORECASE)
# Top-level domains that also end ordinary words typed without a space after a full stop ("awful.me") count
# only with a path after them.
_SAFE_TLDS = r"(?:co\.uk|org\.uk|gov\.uk|nhs\.uk|ac\.uk|police\.uk|com|org|net|uk|io|info|biz|ie|eu)"
_RISKY_TLDS = r"(?:ly|me|to|tv|gl|gd|app|dev|co|us|be|ai|in|it|is|at|so|gg|li)"
_BARE_URL = re.compile(
    rf"(?<![\w@.\-])(?:[a-z0-9][a-z0-9\-]*\.){{1,6}}(?:{_SAFE_TLDS}(?![\w\-])(?:/\S*)?|{_RISKY_TLDS}/\S*)",
    re.IGNORECASE,
)
# Each address pattern starts only where a run of its characters starts, so long runs cost one pass, not one per
# character.
_EMAIL = re.compile(r"(?<![\w.%+'\-])[\w.%+'\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)+", re.IGNORECASE)
_TLD_WORDS = r"(?:com|net|org|uk|io|info|biz|ie|eu|edu|gov|me|live)(?![\w\-])"
_BRACKETED_AT = r"\s*[(\[{<]\s*at\s*[)\]}>]\s*"
_BRACKETED_DOT = r"\s*[(\[{<]\s*dot\s*[)\]}>]\s*"
_LABEL = r"[a-z0-9\-_]+"
# With "@" any spelling of the dot will do; with the word "at" the dot must be the word "dot", a bracketed one or
# a plain full stop without spaces, so "I was at school. Com..." is not an address.
_SPELT_EMAIL_AT_SIGN = re.compile(
    rf"(?<![\w.%+'\-])[\w.%+'\-]+(?:\s+dot\s+[\w%+'\-]+){{0,4}}\s*@\s*"
    rf"(?:{_LABEL}(?:\s*\.\s*|\s+dot\s+|{_BRACKETED_DOT})){{1,4}}{_TLD_WORDS}",
    re.IGNORECASE,
)
_SPELT_EMAIL_AT_WORD = re.compile(
    rf"(?<![\w.%+'\-])[\w%+'\-]+(?:(?:\.|\s+dot\s+|{_BRACKETED_DOT})[\w%+'\-]+){{0,4}}(?:\s+at\s+|{_BRACKETED_AT})"
    rf"(?:{_LABEL}(?:\.|\s+dot\s+|{_BRACKETED_DOT})){{1,4}}{_TLD_WORDS}",
    re.IGNORECASE,
)
_HANDLE = re.compile(r"(?<![\w@.])@[a-z0-9_](?:[a-z0-9_.]*[a-z0-9_])?", re.IGNORECASE)
# A handle given without its @ ("his insta is dazza_92") is recognisable by the underscore, dot or digits that
# ordinary words never have, or by being called a username.
_NAMED_HANDLE = re.compile(
    r"(?P<cue>\b(?:(?:insta(?:gram)?|snap(?:chat)?|facebook|fb|tiktok|twitter|ig|sc)"
    r"(?:[ \t]+(?:name|handle|account|acc))?(?:[ \t]+is|[ \t]*[:=\-])?"
    r"|user[ \t]?name(?:[ \t]+is|[ \t]*[:=\-])?|handle[ \t]+is)[ \t]*)"
    r"(?P<handle>[a-z0-9_.]*[a-z][a-z0-9_.]*)(?<![.])",
    re.IGNORECASE,
)


def _spelt_email(match: re.Match) -> str:
    # "the article is at example.co.uk" is a sentence, not an address: an ordinary word before a plain "at" and a
    # plain full stop. A spelt-out "dot" or a bracketed "(at)" is always someone hiding an address.
    found = match.group()
    local = re.split(r"\s+at\s+", found, maxsplit=1, flags=re.IGNORECASE)[0]
    spelt = re.search(r"\sdot\s|[(\[{<]", found, flags=re.IGNORECASE)
    if not spelt and _low(local) in COMMON_WORDS:
        return found
    return "[EMAIL]"


def _named_handle(match: re.Match) -> str:
    handle = match.group("handle")
    username = re.match(r"user", match.group("cue"), flags=re.IGNORECASE)
    if re.search(r"[_.\d]", handle) or (username and _low(handle) not in COMMON_WORDS):
        return match.group("cue") + "[HANDLE]"
    return match.group()


def _url(match: re.Match) -> str:
    found = match.group()
    kept = found.rstrip(_TRAILING_PUNCTUATION)
    return "[URL]" + found[len(kept):]


# --- postcodes, registrations, National Insurance numbers ---------------------------------------------------------

# Inward codes never use C, I, K, M, O or V, which keeps "ww2 1st"-like text rarer than it would be.
_POSTCODE = re.compile(
    r"(?<![a-z0-9])[a-z]{1,2}\d[a-z\d]?[ \t\-]*\d[abd-hjlnp-uw-z]{2}(?![a-z0-9])", re.IGNORECASE
)
# GL is Gloucestershire's own area and no road is called GL, so its outward codes go even alone.
_GL_OUTWARD = re.compile(r"(?<![a-z0-9])gl\d{1,2}(?![a-z0-9])", re.IGNORECASE)
# Other outward codes look like roads (A40, M5), so they go only where a postcode is being given.
_CUED_OUTWARD = re.compile(
    r"(?P<cue>\b(?:post\s?code(?:\s+is)?|(?:live|lives|living|lived|moved|stay|staying)\s+(?:in|to))[\s:]+)"
    r"[a-z]{1,2}\d{1,2}[a-z]?(?![a-z0-9])",
    re.IGNORECASE,
)
_OUTWARD_THEN_AREA = re.compile(r"(?<![a-z0-9])[a-z]{1,2}\d{1,2}[a-z]?(?=\s+(?:area|postcode|post code)\b)", re.I)
_PLATE = re.compile(r"(?<![a-z0-9])[a-z]{2}\d{2}[ \t]?[a-z]{3}(?![a-z0-9])", re.IGNORECASE)
# Prison numbers (A1234BC) name the person who did the harm as surely as their name does.
_PRISON_NUMBER = re.compile(r"(?<![a-z0-9])[a-z]\d{4}[a-z]{2}(?![a-z0-9])", re.IGNORECASE)
# HMRC never uses D, F, I, U or V in the prefix, which keeps "is 12 13 14 a..." out; Q is let in because
# people copy the well-known example QQ 12 34 56 C.
_NATIONAL_INSURANCE = re.compile(
    r"(?<![a-z0-9])[a-ceg-hj-tw-z]{2}[ \t]?\d{2}[ \t]?\d{2}[ \t]?\d{2}[ \t]?[a-d](?![a-z0-9])", re.IGNORECASE
)


def _cued_outward(match: re.Match) -> str:
    return match.group("cue") + "[POSTCODE]"


# --- phone numbers and other numbers ------------------------------------------------------------------------------

_DATE = re.compile(
    r"(?:0?[1-9]|[12]\d|3[01])[ ./\-](?:0?[1-9]|1[0-2])[ ./\-](?:\d{2}|\d{4})"
    r"|(?:0?[1-9]|1[0-2])[ ./\-](?:0?[1-9]|[12]\d|3[01])[ ./\-](?:\d{2}|\d{4})"
    r"|(?:19|20)\d\d[./\-](?:0?[1-9]|1[0-2])[./\-](?:0?[1-9]|[12]\d|3[01])"
)
_YEARS = re.compile(r"(?:19|20)\d\d(?:\s*[\-–/ ]\s*(?:(?:19|20)\d\d|\d\d))?")
# Thousands written with commas ("15,000") count as one number; an amount of money is a number like any other:
# "£38,250" can be a figure only one person's case has.
_DIGIT_RUN = re.compile(r"(?<![\d.,])\(?\d+(?:(?:,\d{3})+|[ \t.\-()]{1,3}\d+)*\)?")
# UK numbers have ten or eleven digits with the trunk zero, nine at the least without it; shorter runs the
# matcher offers are years, times, dates and reference numbers, left to the general number rule.
_MIN_PHONE_DIGITS = 9
_MIN_NUMBER_DIGITS = 5


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _is_date_or_years(text: str) -> bool:
    text = text.strip("() \t")
    return bool(_DATE.fullmatch(text) or _YEARS.fullmatch(text))


def _is_service_number(digits: str) -> bool:
    try:
        number = phonenumbers.parse(digits, "GB")
    except phonenumbers.NumberParseException:
        return False
    return shortnumberinfo.is_valid_short_number_for_region(number, "GB")


def _redact_phones(text: str) -> str:
    spans = []
    for match in PhoneNumberMatcher(text, "GB", leniency=Leniency.POSSIBLE):
        # At this leniency the matcher also takes dates and reference numbers ("12.03.2024", "123456/21").
        raw = match.raw_string
        if len(_digits(raw)) < _MIN_PHONE_DIGITS or _is_date_or_years(raw) or "/" in raw:
            continue
        start, end = match.start, match.end
        # The matcher leaves out an opening bracket it read as part of the number's grouping.
        if start > 0 and text[start - 1] == "(" and ")" in match.raw_string:
            start -= 1
        spans.append((start, end))
    for start, end in reversed(spans):
        text = text[:start] + "[PHONE]" + text[end:]
    return text


def _number(match: re.Match) -> str:
    found = match.group()
    digits = _digits(found)
    if len(digits) < _MIN_NUMBER_DIGITS or _is_date_or_years(found) or _is_service_number(digits):
        return found
    # Keep a bracket or separator that only belongs to the text around the number.
    core = found.strip(" \t.-")
    if core.startswith("(") and ")" not in core[1:]:
        core = core[1:]
    if core.endswith(")") and "(" not in core[:-1]:
        core = core[:-1]
    start = found.index(core)
    return found[:start] + "[NUMBER]" + found[start + len(core):]


# --- street addresses ---------------------------------------------------------------------------------------------

_STRONG_SUFFIXES = (
    "road rd street st avenue ave av lane ln drive dr crescent cres gardens gdns terrace terr grove square sq "
    "boulevard parade mews"
).split()
_WEAK_SUFFIXES = "close cl way place pl court ct hill row walk park view rise green fields gate end vale".split()
_SUFFIX_PATTERN = "|".join(sorted(_STRONG_SUFFIXES + _WEAK_SUFFIXES, key=len, reverse=True))
# Words that are never part of a street's name, so "3 hours on the road" is not an address.
_NOT_STREET_WORDS = (
    "the a an on in at to of and or my his her their our your its for with from by is was were are be been me "
    "him us them it i you he she we they this that hours hour mins minutes days day weeks week months month years "
    "year times miles mile people men women kids lads boys girls cars houses doors very really just"
).split()
_STREET_WORD = rf"(?!(?:{'|'.join(_NOT_STREET_WORDS)})\b)[a-z][a-z'’\-]*"
_NUMBERED_ADDRESS = re.compile(
    rf"(?:\b(?:flat|apartment|apt|unit)[ \t]*\d{{1,4}}[a-z]?[ \t]*,?[ \t]*)?"
    rf"(?<![\d£$€])\b\d{{1,4}}[a-z]?,?[ \t]+(?:{_STREET_WORD}[ \t]+){{1,3}}(?:{_SUFFIX_PATTERN})\b\.?",
    re.IGNORECASE,
)
_CUED_STREET = re.compile(
    rf"(?P<cue>\b(?:live|lives|lived|living|moved|move|stay|stays|staying|stayed|address\s+is)[ \t]+"
    rf"(?:on|at|in|to|into|round|near|off|by)[ \t]+(?:the[ \t]+)?)"
    rf"(?P<street>(?:{_STREET_WORD}[ \t]+){{1,3}}(?:{_SUFFIX_PATTERN}))\b\.?",
    re.IGNORECASE,
)
# Without a number a street is a capitalised name before a street word: "Road", "Street"... in any case ("Westgate
# street"), "Close", "Way", "Place" and "Court" only with a capital, being ordinary words too ("told Dave way
# back"). Hill, Green, Park and the like are surnames and place names too often to count at all.
_STREET_WORDS_ANY_CASE = "|".join(sorted(_STRONG_SUFFIXES, key=len, reverse=True))
_NAMED_STREET = re.compile(
    rf"\b(?P<words>(?:[A-Z][a-z'’]+[ \t]+){{1,3}})(?:(?i:{_STREET_WORDS_ANY_CASE})|Close|Way|Place|Court)\b\.?"
)


def _numbered_address(match: re.Match) -> str:
    words = match.group().split()
    suffix = _low(words[-1].rstrip("."))
    street_words = [w for w in words if not any(ch.isdigit() for ch in w)][:-1]
    street_words = [w for w in street_words if _low(w.rstrip(",")) not in ("flat", "apartment", "apt", "unit")]
    # "Close", "Way", "Hill"... are ordinary words too: "2 very close friends" is no address.
    if suffix in _WEAK_SUFFIXES and all(_low(w) in COMMON_WORDS and w.islower() for w in street_words):
        return match.group()
    return "[ADDRESS]"


def _cued_street(match: re.Match) -> str:
    return match.group("cue") + "[ADDRESS]"


def _named_street(match: re.Match) -> str:
    found = match.group()
    words = match.group("words").split()
    # A capitalised word opening the sentence ("On", "Near") is kept, the street after it goes.
    kept = []
    while words and _low(words[0]) in COMMON_WORDS | CALENDAR:
        kept.append(words.pop(0))
    if not words or all(_low(w) in COMMON_WORDS | ALLOWED_PROPER for w in words):
        return found
    start = found.index(words[0], sum(len(w) for w in kept))
    return found[:start] + "[ADDRESS]"


# --- names --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    text: str
    # Placeholders stay in the token list, so that sentences keep their shape when a message is redacted twice,
    # but they are never a name nor a cue.
    placeholder: bool = False

    @property
    def possessive(self) -> bool:
        return len(self.text) > 2 and _low(self.text).endswith("'s")

    @property
    def core(self) -> str:
        return self.text[:-2] if self.possessive else self.text

    @property
    def low(self) -> str:
        return _low(self.text)

    @property
    def core_low(self) -> str:
        return _low(self.core)

    @property
    def capitalised(self) -> bool:
        return self.text[0].isupper() and not self.placeholder


_SPACES = re.compile(r"[ \t]+")
_CUE_GAP = re.compile(r"[ \t]*[,:\-–—(]?[ \t]*")
_TITLE_GAP = re.compile(r"\.?[ \t]*")
_SENTENCE_END = ".!?…\n"


def _looks_inflected(word: str) -> bool:
    # A lower-case word after a cue that ends like a verb or adverb ("my ex stalked me", "my ex constantly") is not
    # taken as a name; plain "-ly" is left alone, it ends too many names (Kelly, Emily, Molly).
    if word in _NAMES_THAT_LOOK_INFLECTED:
        return False
    adverb = len(word) >= 7 and word.endswith(("ally", "ously", "edly", "fully", "ively", "ently", "antly", "ably"))
    return adverb or (len(word) >= 4 and word.endswith("ed")) or (len(word) >= 5 and word.endswith("ing"))


def _looks_like_verb_or_plural(word: str) -> bool:
    # "my neighbour reckons", "its aims": a final -s is a verb or a plural, except in the endings and names
    # (Chris, Marcus, Rhys, Jess, James) where it is part of a first name.
    return (
        word.endswith("s")
        and not word.endswith(("ss", "us", "is", "ys", "os", "'s"))
        and word not in _FIRST_NAMES_ENDING_IN_S
    )


def _looks_descriptive(word: str) -> bool:
    # After "this is" or "I'm" a lower-case word is usually a description ("this is pointless").
    if word in _NAMES_THAT_LOOK_INFLECTED:
        return False
    endings = ("ful", "ble", "ous", "ive", "less", "ish", "ness", "ment", "tion", "sion", "est", "ical")
    return _looks_inflected(word) or (len(word) >= 5 and word.endswith(endings)) or (
        len(word) >= 7 and word.endswith("ly")
    )


def _is_placeholder(text: str, match: re.Match) -> bool:
    return match.group() in _PLACEHOLDER_WORDS and text[match.start() - 1: match.start()] == "["


def _ordinary(word: str) -> bool:
    return word in COMMON_WORDS or word in CALENDAR


class _Names:
    """Finds the tokens of a message that are names; each found name is a range of token indexes."""

    def __init__(self, text: str):
        self.text = text
        self.tokens = [
            _Token(m.start(), m.end(), m.group(), _is_placeholder(text, m))
            for m in _TOKEN.finditer(text)
            # Letters glued to digits are units and ordinals ("3rd", "10am", "6ft"), not words.
            if not text[m.start() - 1: m.start()].isdigit()
        ]
        self.lows = [f"[{t.text}]" if t.placeholder else t.low for t in self.tokens]
        self.found: List[Tuple[int, int]] = []
        self.firsts: List[int] = []
        for index in range(len(self.tokens)):
            self.firsts.append(index if index == 0 or self.sentence_start(index) else self.firsts[-1])

    def gap(self, left: int, right: int) -> str:
        return self.text[self.tokens[left].end: self.tokens[right].start]

    def adjacent(self, left: int, right: int) -> bool:
        return 0 <= left and right < len(self.tokens) and bool(_SPACES.fullmatch(self.gap(left, right)))

    def sentence_start(self, index: int) -> bool:
        before = self.text[: self.tokens[index].start].rstrip(" \t\"'“‘(*-")
        return not before or before[-1] in _SENTENCE_END

    def sentence_ends_after(self, index: int) -> bool:
        """Nothing but punctuation, or a placeholder after a dash or comma, follows until the sentence ends."""
        after = self.text[self.tokens[index].end:]
        return bool(re.match(r"[ \t]*(?:$|[.!?…\n]|[,:;\-–—]+[ \t]*\[[A-Z]+\])", after))

    # The cues ---------------------------------------------------------------------------------------------------

    def cue_ending(self, index: int, cues: Tuple[Tuple[str, ...], ...]) -> Optional[int]:
        """The index of the cue's first token when one of `cues` ends at `index`."""
        for cue in cues:
            first = index - len(cue) + 1
            if first >= 0 and tuple(self.lows[first: index + 1]) == cue:
                if all(self.adjacent(i, i + 1) for i in range(first, index)):
                    return first
        return None

    def relation_ending(self, index: int) -> Optional[str]:
        """How the relation ends when the tokens up to `index` are "my ex partner", "my mum's boyfriend", "our
        neighbours": "plain", "possessive" ("my dad's") or "plural" ("my sons", which may be a possessive typed
        without its apostrophe); None when they are not a relation."""
        seen_relation = False
        ending = "plain"
        position = index
        # "my best friend's older brother" is as long as relations get.
        while position >= max(0, index - 6):
            word = self.lows[position]
            if word in _DETERMINERS and seen_relation:
                return ending
            stem = re.sub(r"^(?:ex|step|x|former)-", "", word)
            kind = "plain"
            if stem.endswith("'s"):
                stem, kind = stem[:-2], "possessive"
            elif stem not in _RELATIONS and stem.endswith("s") and stem[:-1] in _RELATIONS:
                stem, kind = stem[:-1], "plural"
            if stem in _RELATIONS:
                if not seen_relation:
                    ending = kind
                seen_relation = True
            elif stem not in _RELATION_MODIFIERS:
                return None
            if position == 0 or not _SPACES.fullmatch(self.gap(position - 1, position).replace("-", " ")):
                return None
            position -= 1
        return None

    def strong_candidate(self, index: int, relation: str = "plain") -> bool:
        token = self.tokens[index]
        word = token.core_low
        if token.placeholder:
            return False
        if word in ALLOWED_PROPER and word not in _ALLOWED_ALSO_NAMES:
            return False
        if _ordinary(word):
            return word in ALSO_FIRST_NAMES and (token.capitalised or word not in _LOWER_CASE_ORDINARY)
        if token.capitalised:
            return True
        # After "my dad's" comes a thing ("my dad's funeral"); after "my sons" a thing too, unless a list of names
        # follows ("my sons jake and tom").
        if relation == "possessive" or (relation == "plural" and not self.list_follows(index)):
            return False
        return len(word) >= 2 and not _looks_inflected(word) and not _looks_like_verb_or_plural(word)

    def weak_candidate(self, index: int, cue_start: int) -> bool:
        token = self.tokens[index]
        word = token.core_low
        if token.placeholder or _ordinary(word) or word in ALLOWED_PROPER:
            return False
        if token.capitalised:
            return True
        # In lower case only an introduction counts: at the start of a sentence or after a greeting ("hi its tash"),
        # with the name closing the clause.
        introduction = all(self.lows[i] in _GREETINGS for i in range(self.sentence_first(cue_start), cue_start))
        plain = len(word) >= 2 and not _looks_descriptive(word) and not _looks_like_verb_or_plural(word)
        return introduction and plain

    def sentence_first(self, index: int) -> int:
        return self.firsts[index]

    def list_follows(self, index: int) -> bool:
        if index + 1 >= len(self.tokens):
            return False
        gap = self.gap(index, index + 1)
        return self.lows[index + 1] in ("and", "n") or bool(re.fullmatch(r"[ \t]*[,&][ \t]*", gap))

    def full_name_end(self, index: int) -> int:
        """Extends a first name over a surname or two: "Dave Smith", "dave smith"."""
        end = index
        while end - index < 2 and not self.tokens[end].possessive and self.adjacent(end, end + 1):
            following = self.tokens[end + 1]
            if following.placeholder:
                break
            if _ordinary(following.core_low) and not (following.capitalised and following.core_low in _ALSO_SURNAMES):
                break
            # A surname in lower case after a capitalised first name still goes ("Dave smith"); one that ends like a
            # verb is taken for the verb it more likely is ("Dave smashed").
            if not following.capitalised and (_looks_inflected(following.core_low) or following.core_low in
                                                ALLOWED_PROPER):
                break
            end += 1
        return end

    def weak_name_closes(self, end: int) -> bool:
        # "hi its dave" or "im dave and my ex...": the name ends the clause or is followed by an introduction.
        if end + 1 >= len(self.tokens):
            return True
        if not _SPACES.fullmatch(self.gap(end, end + 1)):
            return True
        return self.lows[end + 1] in _AFTER_INTRODUCTION

    def find_cued(self) -> None:
        count = len(self.tokens)
        for index in range(count - 1):
            name = index + 1
            gap = self.gap(index, name)
            token = self.tokens[index]
            if token.text in _CAPITALISED_HONORIFICS or self.lows[index] in _HONORIFICS:
                candidate = self.tokens[name]
                if _TITLE_GAP.fullmatch(gap) and not candidate.placeholder and not _ordinary(candidate.core_low):
                    if candidate.capitalised or token.text not in _CAPITALISED_HONORIFICS:
                        self.add(name, self.full_name_end(name))
                continue
            if not _CUE_GAP.fullmatch(gap):
                continue
            strong = self.cue_ending(index, _STRONG_CUES)
            # "a so-called builder" is no introduction.
            if strong is not None and strong > 0 and self.lows[strong - 1] == "so":
                continue
            relation = self.relation_ending(index) if strong is None else "plain"
            weak = self.cue_ending(index, _WEAK_CUES)
            if relation is not None:
                if self.strong_candidate(name, relation):
                    end = self.full_name_end(name)
                    self.add(name, end)
                    self.add_and_another(end)
            elif weak is not None and self.weak_candidate(name, weak):
                end = self.full_name_end(name)
                if self.tokens[name].capitalised or self.weak_name_closes(end):
                    self.add(name, end)
        self.find_here()

    def find_here(self) -> None:
        """ "hi dave here": a word introducing itself with "here" at the start of a sentence or after a greeting."""
        for index in range(len(self.tokens) - 1):
            token = self.tokens[index]
            if self.lows[index + 1] != "here" or not self.adjacent(index, index + 1):
                continue
            first = self.sentence_first(index)
            if not all(self.lows[i] in _GREETINGS for i in range(first, index)):
                continue
            word = token.core_low
            if token.placeholder or _ordinary(word) or word in ALLOWED_PROPER or word in _RELATIONS or len(word) < 2:
                continue
            if _looks_descriptive(word):
                continue
            if self.weak_name_closes(index + 1):
                self.add(index, index)

    def add_and_another(self, end: int) -> None:
        """ "my sons jake and tom": the second name after "and" or "&" goes too."""
        following = end + 1
        if following < len(self.tokens) and self.lows[following] in ("and", "n") and self.adjacent(end, following):
            second = following + 1
            if not self.adjacent(following, second):
                return
        elif following < len(self.tokens) and re.fullmatch(r"[ \t]*&[ \t]*", self.gap(end, following)):
            second = following
        else:
            return
        first_capitalised = self.tokens[end].capitalised
        if self.tokens[second].capitalised == first_capitalised and self.strong_candidate(second):
            if self.tokens[second].core_low not in ALLOWED_PROPER:
                self.add(second, self.full_name_end(second))

    def find_capitalised(self) -> None:
        for index, token in enumerate(self.tokens):
            word = token.core_low
            if not token.capitalised or len(token.core) < 2 or _ordinary(word) or word in ALLOWED_PROPER:
                continue
            acts = index + 1 < len(self.tokens) and self.adjacent(index, index + 1) and self.lows[index + 1] in _ACTIONS
            # Short words in capitals are abbreviations far more often than names ("CR", "IOPC"); a name in
            # capitals is still found by a cue or by what it did ("DAVE HIT ME").
            if token.core.isupper() and len(token.core) <= 4 and not acts:
                continue
            if not self.sentence_start(index):
                self.add(index, index)
            elif self.sentence_ends_after(index) or token.possessive:
                # A name on its own, answering "what's your name?", or before a number ("Fatima - [PHONE]"); and
                # "Dave's been texting me": an uncommon capitalised word with 's opening a sentence is a person.
                self.add(index, index)
            elif acts:
                self.add(index, index)

    def find_repeats(self) -> None:
        """A word once found as a name is a name everywhere else in the message ("my ex dave... dave said")."""
        words = {self.tokens[i].core_low for start, end in self.found for i in range(start, end + 1)}
        words = {w for w in words if len(w) >= 2 and not _ordinary(w) and w not in ALLOWED_PROPER}
        for index, token in enumerate(self.tokens):
            if token.core_low in words and not token.placeholder:
                self.add(index, index)

    def add(self, start: int, end: int) -> None:
        self.found.append((start, end))

    def spans(self) -> List[Tuple[int, int]]:
        """Character spans of the names, each widened over capitalised neighbours and merged with overlaps."""
        marked: Set[int] = {i for start, end in self.found for i in range(start, end + 1)}
        waiting = sorted(marked)
        while waiting:
            index = waiting.pop()
            for neighbour in (index - 1, index + 1):
                left, right = min(index, neighbour), max(index, neighbour)
                if neighbour in marked or not self.adjacent(left, right) or self.tokens[left].possessive:
                    continue
                if self.absorbable(neighbour):
                    marked.add(neighbour)
                    waiting.append(neighbour)
        spans: List[Tuple[int, int]] = []
        previous: Optional[int] = None
        for index in sorted(marked):
            token = self.tokens[index]
            end = token.end - 2 if token.possessive else token.end
            if previous is not None and previous == index - 1 and self.adjacent(previous, index) \
                    and not self.tokens[previous].possessive:
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((token.start, end))
            previous = index
        return spans

    def absorbable(self, index: int) -> bool:
        # A capitalised neighbour of a name is taken with it, even a place word: "Dean Smith", not "Dean [NAME]".
        token = self.tokens[index]
        if token.text in _CAPITALISED_HONORIFICS or token.low in _HONORIFICS:
            return False
        word = token.core_low
        return token.capitalised and len(token.core) >= 2 and (not _ordinary(word) or word in _ALSO_SURNAMES)


def _redact_given_names(text: str, names: Iterable[str]) -> str:
    # One name passed on its own would otherwise be read letter by letter, and each letter redacted everywhere.
    if isinstance(names, str):
        names = [names]
    wanted: Set[str] = set()
    for name in names:
        name = " ".join(str(name or "").split())
        if not name:
            continue
        wanted.add(name)
        # Each part of a full name on its own too, unless it is an ordinary word: "Smith" of "Will Smith" goes
        # wherever it is, "Will" only in the full name.
        for part in _TOKEN.findall(name):
            if len(part) >= 2 and not _ordinary(_low(part)):
                wanted.add(part)
    for name in sorted(wanted, key=len, reverse=True):
        pattern = r"[\s\-]+".join(re.escape(part) for part in name.split())
        text = re.sub(rf"(?<![\w\[]){pattern}(?![\w\]])", "[NAME]", text, flags=re.IGNORECASE)
    return text


def _redact_names(text: str, names: Iterable[str]) -> str:
    text = _redact_given_names(text, names)
    finder = _Names(text)
    finder.find_cued()
    finder.find_capitalised()
    finder.find_repeats()
    for start, end in reversed(finder.spans()):
        text = text[:start] + "[NAME]" + text[end:]
    return text


# --- the whole --------------------------------------------------------------------------------------------------

_REPEATED_PLACEHOLDER = re.compile(r"\[([A-Z]+)\](?:[ \t\-]*\[\1\])+")


def redact(text: str, names: Iterable[str] = ()) -> str:
    """`text` with each piece of personal data replaced by a placeholder; everything else is kept as written.

    `names` are names already known to belong to the conversation (the visitor's own, say); they go wherever they
    appear, whole words only, in any case.
    """
    if not text:
        return text
    # Web and e-mail addresses first: their digits, dots and words would otherwise be read as numbers and names.
    text = _SCHEME_URL.sub(_url, text)
    text = _EMAIL.sub("[EMAIL]", text)
    text = _SPELT_EMAIL_AT_SIGN.sub("[EMAIL]", text)
    text = _SPELT_EMAIL_AT_WORD.sub(_spelt_email, text)
    text = _BARE_URL.sub(_url, text)
    text = _HANDLE.sub("[HANDLE]", text)
    text = _NAMED_HANDLE.sub(_named_handle, text)
    text = _POSTCODE.sub("[POSTCODE]", text)
    text = _GL_OUTWARD.sub("[POSTCODE]", text)
    text = _CUED_OUTWARD.sub(_cued_outward, text)
    text = _OUTWARD_THEN_AREA.sub("[POSTCODE]", text)
    text = _NATIONAL_INSURANCE.sub("[NUMBER]", text)
    text = _PRISON_NUMBER.sub("[NUMBER]", text)
    text = _PLATE.sub("[PLATE]", text)
    text = _redact_phones(text)
    text = _NUMBERED_ADDRESS.sub(_numbered_address, text)
    text = _CUED_STREET.sub(_cued_street, text)
    text = _NAMED_STREET.sub(_named_street, text)
    text = _DIGIT_RUN.sub(_number, text)
    text = _redact_names(text, names)
    return _REPEATED_PLACEHOLDER.sub(r"[\1]", text)


def contains_personal_data(text: str) -> bool:
    """True when `redact` would change the text, that is when it holds something that looks like personal data."""
    return redact(text) != text
