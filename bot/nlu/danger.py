"""The danger net's reading: danger happening now and thoughts of suicide or self-harm, however phrased.

The net (bot/nlu/danger_net.py) runs last in the NLU pipeline, on every message and in every state of the
conversation (the callback form included), and turns the message's intent into `emergency_danger` or
`emergency_self_harm` when either

- the words say so: "he's at my door", "hes banging on the windows", "my husband has just hit me", "I can see his
  car outside again", "I won't still be here by the time anyone rings", "got the pills in front of me"; or
- the classifier ranks an emergency intent first with at least `min_confidence_first`, or anywhere with at
  least `min_confidence` (measured on out-of-fold predictions of the training data: at 0.3 and 0.5 the
  classifier adds the emergencies the words miss for under half a percent of other messages).

The rules in data/rules/safety.yml then lead with 999 and the right helpline. A needless 999 reminder costs a
person a few seconds; a missed one could cost far more, so the net is wide, but the words must speak of now:
"he hit me last year, can RJ help?" is a question about restorative justice. No library knows these phrasings;
the patterns are short and each is tested in both directions (tests/test_danger.py), and `make eval` measures
the net's recall and its false alarms on questions written outside the team.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

DANGER = "emergency_danger"
SELF_HARM = "emergency_self_harm"
DANGER_SOURCE = "danger_source"  # key of the parse result: "words" or "classifier"

_SUBJECT = (r"(?:he|she|they|someone|somebody|some1|sum1|som1|a man|a woman|a guy|my ex|my husband|my wife|my partner|"
            r"my boyfriend|my girlfriend|my dad|my stepdad|my brother|my son|my neighbour|the man|the guy|the lad)")
_PLACE = (r"(?:door|front door|back door|window|windows|house|home|flat|gate|garden|car|work|room|bedroom|"
          r"school|office|place|street)")
_VIOLENT_NOW = (r"(?:hitting|punching|kicking|strangling|choking|attacking|beating|battering|stabbing|slapping|"
                r"grabbing|threatening|hurting|raping)")
_VIOLENT_PAST = (r"(?:hit|punched|kicked|strangled|choked|attacked|beat|stabbed|slapped|grabbed|pushed|shoved|"
                 r"threatened|hurt|raped|assaulted)")
_VICTIM = r"(?:me|us|my \w+|his \w+|her|him|the kids|mum|someone|a \w+)"

_SELF_HARM = re.compile(
    r"\b(?:"
    r"(?:kill|killing) (?:my\s?self|me\s?self)|"
    r"(?:to|gonna|wanna|will|'ll|keep|keeps|been|started|thinking (?:of|about)|might|could|urge to|about to)"
    r" (?:\w+ )?(?:hurt|hurting|harm|harming|cut|cutting|end|ending)\s+(?:my\s?self|me\s?self)|"
    r"suicid\w*|self[- ]?harm\w*|"
    r"(?:end|ending|take|taking)\s+(?:it all|my (?:own )?life)|end it (?:all|tonight|now|today)|"
    r"(?:don'?t|do not|dont|no longer|never) (?:want|wanna) (?:to )?(?:be here|live|be alive|exist|wake up|"
    r"go on|carry on(?! with)|be around)|"
    r"(?:no|any|the|what'?s the|whats the) (?:point|reason) (?:in |of |to )?(?:living|going on|being here|"
    r"carrying on|life|me being here|anything any ?more|any ?more)|"
    r"(?:better off|be better|happier) without me|"
    r"(?:won'?t|wont|will not|not going to|don'?t think i'?ll|dont think ill|might not) (?:still )?"
    r"(?:be here|be around|be alive)|"
    r"not (?:be|still be) (?:here|around) (?:tomorrow|much longer|any ?more|by)|"
    r"(?:can'?t|cannot|cant|don'?t think i can|dont think i can|not sure i can) (?:go on|do this any ?more|"
    r"cope any ?more|take (?:it|this) any ?more|carry on(?! with)|keep going)|"
    r"(?:had|have had|i'?ve had|ive had) enough (?:of (?:everything|life|it all|living|all of it))|"
    r"want(?:ed)? to die|wanna die|wish (?:i was|i were|i'?d) (?:dead|never born)|"
    r"(?:got|have|taking|take|took|taken|swallow\w*|saved up|stockpil\w*|counting out)\W+(?:\w+\W+){0,3}?"
    r"(?:pills|tablets|paracetamol)|(?:pills|tablets) (?:ready|in front of me|lined up)|overdos\w*|"
    r"jump(?:ing)? (?:off|in front of)|hang(?:ing)? myself|noose|disappear (?:forever|for good)|kms|"
    r"(?:this is|these are) my last (?:message|words)|(?:i'?ll|ill|i will) be gone|"
    r"standing on (?:the|a) (?:bridge|edge|ledge|roof)|engine running|"
    r"(?:goodbye|suicide) (?:letter|note)s?|where (?:they'?ll|they will) find (?:them|it|me)"
    r")\b"
)
# "I'm not suicidal, I just need to talk": a denial is heard (the person is then answered with support lines).
_DENIAL = re.compile(r"\b(?:not|never|no|n't|nt)\s+(?:\w+\s+){0,2}$")

_DANGER = re.compile(
    r"\b(?:"
    # someone at, outside or getting into the place the person is
    rf"{_SUBJECT}(?:'s|s| is| are|'re| has| have)?(?: just| now| back| still| again| already)*"
    rf" (?:outside|at|round|by|near) (?:my|our|me|the) {_PLACE}|"
    rf"{_SUBJECT}(?:'s|s| is| are|'re)? in (?:my|our|the) (?:house|home|flat|garden|bedroom|hall|next room)|"
    rf"(?:is|'s|are|'re) (?:\w+ ){{0,2}}outside (?:the|my|our) (?:house|flat|home|door|window)|"
    rf"{_SUBJECT}(?:'s|s| is| are|'re)(?: just| now| still| again| already)*"
    r" (?:back|bak|here|outside|downstairs|upstairs)\b|"
    rf"{_SUBJECT}(?: has| have|'s)?(?: just| now| again| already)*"
    r" (?:turned up|shown up|showed up|pulled up|come back|got in|broken in|found me|followed me)\b|"
    r"(?:turned up|showed up|shown up|pulled up) (?:at|outside)|"
    rf"(?:banging|bangin|hammering|hammerin|kicking|kickin|smashing|smashin|knocking|knockin)"
    rf" (?:on |at |in )?(?:the|my|our) {_PLACE}|"
    r"(?:breaking|trying to break|(?:trying|tryin) (?:to|2) (?:get|break)|forcing (?:his|her|their|the) way)"
    r" (?:in|into|down)|(?:won'?t|wont|will not) let me (?:leave|out|go)|"
    r"(?:can see|i see|just saw|spotted) (?:his|her|their) (?:car|van)|"
    # being hurt, threatened or followed now
    rf"(?:is|are|'s|'re|keeps?|started|still) (?:\w+ )?{_VIOLENT_NOW} {_VICTIM}|"
    rf"(?:just|jst|now|again|tonight) (?:\w+ )?{_VIOLENT_PAST} {_VICTIM}|"
    rf"{_VIOLENT_PAST} (?:me|us) (?:again|just now|right now|tonight)|"
    r"(?:following|followin|follwing|folowing|chasing|stalking) me|(?:being|been) followed|"
    # on the way to hurt the person: "he's on his way over to sort me out"
    r"(?:on (?:his|her|their) way|coming (?:over|round)|(?:mins|minutes) away)\b.{0,60}\b(?:sort (?:me|us) out|"
    r"get (?:me|us)|teach (?:me|us) a lesson|do (?:me|us) in|kill|hurt|batter)|"
    r"(?:sort (?:me|us) out|get (?:me|us)|teach (?:me|us) a lesson|do (?:me|us) in|kill (?:me|us)|hurt (?:me|us))"
    r"\b.{0,60}\b(?:on (?:his|her|their) way|coming (?:over|round)|(?:mins|minutes) away)|"
    r"(?:says?|said|saying|told me|texted|messaged|threatening|threatened|going|gonna|swears?|swore)"
    r" (?:he'?ll|she'?ll|they'?ll|he will|she will|they will|he'?d|she'?d|to) "
    r"(?:kill|hurt|stab|attack|beat|batter|burn|shoot|strangle) (?:me|us|my|the|you|her|him|them|everyone)\b|"
    r"(?:knife|knives|gun|guns|machete|blade|axe)\b(?! crime)|"
    r"(?:just been|is being|'s being|are being) (?:stabbed|shot|attacked|beaten up|glassed)|"
    r"just (?:\w+ )?(?:smashed|kicked|broken|broke) (?:\w+ )?(?:my|the|our) (?:\w+ )?(?:door|window|windows)|"
    r"(?:i'?m|im|i am) not safe (?:here|at home|in my (?:own )?(?:house|home|flat))|"
    r"(?:locked|lockd) (?:myself|me|us|the kids) in|(?:i'?m|im|we'?re|i am) (?:hiding from|trapped|in danger)|"
    r"(?:^|please |pls )send (?:help|the police|someone)|call the police for me|help me now|"
    r"on fire|can'?t breathe"
    r")"
)
# A message about the past that says nothing of now is a question, not an emergency; so is a question about
# what might happen at a restorative meeting.
_PAST = re.compile(r"\b(?:years? ago|months? ago|weeks? ago|last (?:year|month|summer|winter|spring|autumn)|"
                   r"in (?:19|20)\d\d|when i was|back in|used to|at the time|for months|in the past|"
                   r"(?:all|is|it'?s|that'?s) over now)\b")
# A question about restorative justice that mentions a past crime ("I was threatened with a knife, does my
# case count?") is a question too, unless it also says something is happening now.
_ABOUT_THE_SERVICE = re.compile(r"\b(?:rj|restorative|eligib\w*|(?:does|would) (?:my|our) (?:case|situation) count|"
                                r"referr\w*|facilitator|take part)\b")
_PRESENT = re.compile(r"\b(?:now|right now|just|again|tonight|today|at the moment|currently|still)\b")
_WHAT_IF = re.compile(r"\b(?:if (?:we|i|he|she|they)|what if|would (?:he|she|they)|could (?:he|she|they)|"
                      r"might (?:he|she|they)|will (?:he|she|they)|at the meeting|in the meeting|during)\b")


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", (text or "").lower().replace("\u2019", "'")).strip()


def danger_in_words(text: str) -> Optional[str]:
    """Which emergency the words themselves describe, if any."""
    plain = _plain(text)
    if not plain or plain.startswith("/"):
        return None  # button payloads
    if any(not _DENIAL.search(plain[: match.start()]) for match in _SELF_HARM.finditer(plain)):
        return SELF_HARM
    if not _DANGER.search(plain):
        return None
    present = _PRESENT.search(_PAST.sub(" ", plain))
    if (_PAST.search(plain) or _ABOUT_THE_SERVICE.search(plain)) and not present:
        return None
    if "?" in plain and _WHAT_IF.search(plain):
        return None
    return DANGER


def emergency_from_ranking(ranking: List[Dict[str, Any]], min_confidence_first: float,
                           min_confidence: float) -> Optional[str]:
    """The classifier's emergency intent when it is first with `min_confidence_first`, or has `min_confidence`.

    An uncertain classifier often puts the emergencies, its largest classes, first with a low score ("say
    something funny"); a clear second place is rarer and means more.
    """
    scored = sorted(ranking, key=lambda item: -(item.get("confidence") or 0.0))
    for place, item in enumerate(scored):
        if item.get("name") not in (DANGER, SELF_HARM):
            continue
        confidence = item.get("confidence") or 0.0
        if confidence >= min_confidence or (place == 0 and confidence >= min_confidence_first):
            return item["name"]
    return None
