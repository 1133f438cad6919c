"""Answer-level evaluation of the running assistant (`make eval`).

It talks to the assistant as the website widget does (the website app's `POST /chat`) and scores what a
person would see: first messages from `../shared/eval/questions.yml`, each with what a correct reply must
contain, and callback conversations played from the personas in `../shared/eval/callers.yml`. Both sets were
written outside the team; they measure, they are never training data.
"""
