"""Scores the predictions, draws the charts, writes bench/results/report.md and summary.json, prints the table.

Runs in bench/.venv. Reads what the other steps left under bench/work/ (quality/dataset.json, rasa.json,
baselines.json; load/load.json; training/training.json when the training step ran).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
from pathlib import Path
from typing import Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402

BENCH = Path(__file__).resolve().parent
SYSTEMS = {"rasa": "Project pipeline (Rasa)", "tfidf_lr": "TF-IDF + logistic regression",
           "minilm_nn": "MiniLM nearest neighbour"}
GROUPS = {
    "FAQ topics": lambda label: label.startswith("faq/"),
    "Out of scope": lambda label: label.startswith("out_of_scope/"),
    "Emergencies": lambda label: label.startswith("emergency_"),
    "Chit-chat": lambda label: label in {"greet", "goodbye", "thanks"},
    "Callback form": lambda label: label in {"request_callback", "inform", "affirm", "deny", "stop", "correct_detail"},
    "Overall": lambda label: True,
}


def is_fallback(label: str) -> bool:
    return label == "nlu_fallback" or label.startswith("out_of_scope/")


def score(truth: list, predicted: list) -> dict:
    truth, predicted = np.array(truth), np.array(predicted)
    result = {"n": int(len(truth)), "groups": {}, "faq_f1": {}}
    for group, member in GROUPS.items():
        mask = np.array([member(label) for label in truth])
        labels = sorted({label for label in truth if member(label)})
        if not mask.any():
            continue
        result["groups"][group] = {
            "n": int(mask.sum()),
            "accuracy": float((truth[mask] == predicted[mask]).mean()),
            # Over all examples, so a message of another group wrongly given one of these labels counts too.
            "macro_f1": float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)),
        }
    for label in sorted({label for label in truth if label.startswith("faq/")}):
        result["faq_f1"][label] = float(f1_score(truth, predicted, labels=[label], average="macro", zero_division=0))
    true_fb = np.array([label.startswith("out_of_scope/") for label in truth])
    pred_fb = np.array([is_fallback(label) for label in predicted])
    hits = int((true_fb & pred_fb).sum())
    result["fallback"] = {
        "precision": hits / pred_fb.sum() if pred_fb.sum() else 0.0,
        "recall": hits / true_fb.sum() if true_fb.sum() else 0.0,
        "in_scope_to_fallback": float(pred_fb[~true_fb].mean()) if (~true_fb).any() else 0.0,
        "out_of_scope_n": int(true_fb.sum()), "in_scope_n": int((~true_fb).sum()),
    }
    return result


def quality(work: Path) -> dict:
    dataset = json.loads((work / "dataset.json").read_text())
    rasa = json.loads((work / "rasa.json").read_text())
    baselines = json.loads((work / "baselines.json").read_text())
    labels = [e["label"] for e in dataset["examples"]]
    folds = sorted(rasa["folds"], key=int)
    runs = {"rasa": rasa, **baselines}
    out = {"folds_run": [int(f) + 1 for f in folds], "n_folds": dataset["n_folds"], "seed": dataset["seed"],
           "examples": len(labels), "heldout_n": len(dataset["heldout"]), "cv": {}, "heldout": {}, "thresholds": {}}
    for system, run in runs.items():
        truth, predicted = [], []
        for fold in folds:
            part = run["folds"][fold]
            truth += [labels[i] for i in part["indices"]]
            predicted += part["predicted"]
        out["cv"][system] = score(truth, predicted)
        faq = [(t, p) for t, p in zip(truth, predicted) if t.startswith("faq/")]
        out.setdefault("cv_faq_errors", {})[system] = {
            "n": len(faq), "wrong": sum(t != p for t, p in faq),
            "to_fallback": sum(t != p and is_fallback(p) for t, p in faq),
        }
        out["heldout"][system] = score([h["label"] for h in dataset["heldout"]], run["heldout"]["predicted"])
        if system != "rasa":
            out["thresholds"][system] = {"folds": [run["folds"][f]["threshold"] for f in folds],
                                         "heldout": run["heldout"]["threshold"]}
    out["rasa_train_seconds"] = [rasa["folds"][f]["train_seconds"] for f in folds]
    out["rasa_parse_ms"] = rasa["heldout"]["parse_ms"]
    out["heldout_errors"] = [
        {"text": h["text"], "expected": h["label"], "rasa": p}
        for h, p in zip(dataset["heldout"], rasa["heldout"]["predicted"]) if p != h["label"]
    ]
    return out


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def ratio(ours, reference):
    if ours is None or reference in (None, 0):
        return None
    return round(ours / reference, 2)


def fmt_ratio(value) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def chart_quality(q: dict, path_topics: Path, path_groups: Path) -> None:
    topics = sorted(q["cv"]["rasa"]["faq_f1"])
    y = np.arange(len(topics))
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(topics) + 1.5))
    for k, system in enumerate(SYSTEMS):
        ax.barh(y + (k - 1) * 0.27, [q["cv"][system]["faq_f1"][t] for t in topics], height=0.27, label=SYSTEMS[system])
    ax.set_yticks(y, [t.split("/", 1)[1] for t in topics])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("F1 (cross-validation)")
    ax.set_title("F1 per FAQ topic, cross-validation folds")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=3, fontsize=8)
    fig.tight_layout()
    fig.savefig(path_topics, dpi=110)
    plt.close(fig)

    groups = [g for g in GROUPS if g in q["heldout"]["rasa"]["groups"]]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    x = np.arange(len(groups))
    for ax, scope, title in ((axes[0], "cv", "Cross-validation"), (axes[1], "heldout", "Held-out questions")):
        for k, system in enumerate(SYSTEMS):
            ax.bar(x + (k - 1) * 0.27, [q[scope][system]["groups"][g]["macro_f1"] for g in groups], width=0.27,
                   label=SYSTEMS[system])
        ax.set_xticks(x, groups, rotation=25, ha="right")
        ax.set_ylim(0, 1)
        ax.set_title(f"Macro F1 per topic group: {title}")
    axes[0].set_ylabel("macro F1")
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=3, fontsize=8)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path_groups, dpi=110)
    plt.close(fig)


def chart_latency(load: dict, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    users = sorted(load["runs"]["ours"], key=int)
    for kind, style in (("ours", "-"), ("stock", "--")):
        for p, marker in (("p50_ms", "o"), ("p95_ms", "s"), ("p99_ms", "^")):
            ax.plot([int(u) for u in users], [load["runs"][kind][u][p] for u in users], style, marker=marker,
                    label=f"{'assistant' if kind == 'ours' else 'stock rasa init'} {p[:3]}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks([int(u) for u in users], users)
    ax.set_xlabel("concurrent simulated visitors")
    ax.set_ylabel("latency per message (ms)")
    ax.set_title("Latency percentiles against concurrency")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


EVALUATION_SETS = {"shared": "shared set (../shared/eval)", "team": "team's held-out set (bench/heldout)"}


def evaluations(work: Path) -> dict:
    """The answer-level evaluations of this run (bench/evaluation), by set."""
    found = {}
    for name in EVALUATION_SETS:
        path = work / "evaluation" / name / "evaluation.json"
        if path.exists():
            found[name] = json.loads(path.read_text())
    return found


def evaluation_sections(evaluated: dict) -> list:
    """`make eval`'s own report for each set, its headings one level down."""
    sections = []
    for name in evaluated:
        text = (work_dir / "evaluation" / name / "evaluation.md").read_text()
        body = text.split("\n", 1)[1].replace("\n## ", "\n### ").replace("\n### Failures", "\n#### Failures")
        sections.append(f"## Answer-level evaluation: {EVALUATION_SETS[name]}\n{body}")
    return sections


def evaluation_rows(evaluated: dict) -> list:
    rows = []
    for name, result in evaluated.items():
        label = EVALUATION_SETS[name]
        q, c = result["questions"], result["callers"]
        rows.append((f"Answers containing what was needed, {label}", pct(q["answers"]["share"]), "", "", "",
                     ">= 95 %", q["answers"]["share"] >= 0.95))
        rows.append((f"Emergencies with 999 first, {label}", f"{q['emergencies']['hits']}/{q['emergencies']['total']}",
                     "", "", "", "all", q["emergencies"]["hits"] == q["emergencies"]["total"]))
        rows.append((f"Emergency answers to other messages, {label}", pct(q["emergency_false_alarms"]["share"]),
                     "", "", "", "(reported)", None))
        rows.append((f"Fallback recall / in-scope declined, {label}",
                     f"{q['fallback_recall']['share']:.2f} / {pct(q['in_scope_sent_to_fallback']['share'])}", "", "", "",
                     ">= 0.95 / <= 3 %", q["fallback_recall"]["share"] >= 0.95
                     and q["in_scope_sent_to_fallback"]["share"] <= 0.03))
        rows.append((f"Callback conversations finished, {label}", f"{c['finished']['hits']}/{c['finished']['total']}",
                     "", "", "", "(reported)", None))
    return rows


def build_summary(q: dict, load: dict, training: dict, evaluated: Optional[dict] = None) -> list:
    """Rows: (figure, ours, reference name, reference, ratio, target, met)."""
    rows = evaluation_rows(evaluated or {})
    h = q["heldout"]
    better = max(("tfidf_lr", "minilm_nn"), key=lambda s: h[s]["groups"]["FAQ topics"]["accuracy"])
    ours_faq, ref_faq = h["rasa"]["groups"]["FAQ topics"]["accuracy"], h[better]["groups"]["FAQ topics"]["accuracy"]
    rows.append(("FAQ-topic accuracy, held-out", pct(ours_faq), SYSTEMS[better], pct(ref_faq),
                 fmt_ratio(ratio(ours_faq, ref_faq)), ">= better baseline + 5 points", ours_faq >= ref_faq + 0.05))
    cv = q["cv"]
    better_cv = max(("tfidf_lr", "minilm_nn"), key=lambda s: cv[s]["groups"]["FAQ topics"]["accuracy"])
    ours_cv, ref_cv = cv["rasa"]["groups"]["FAQ topics"]["accuracy"], cv[better_cv]["groups"]["FAQ topics"]["accuracy"]
    rows.append((f"FAQ-topic accuracy, CV ({len(q['folds_run'])} folds)", pct(ours_cv), SYSTEMS[better_cv], pct(ref_cv),
                 fmt_ratio(ratio(ours_cv, ref_cv)), "(reported)", None))
    for scope, name in (("heldout", "held-out"), ("cv", "CV")):
        fb = q[scope]["rasa"]["fallback"]
        best = max(("tfidf_lr", "minilm_nn"), key=lambda s: q[scope][s]["fallback"]["recall"])
        ref = q[scope][best]["fallback"]
        rows.append((f"Fallback recall, {name}", f"{fb['recall']:.2f}", SYSTEMS[best], f"{ref['recall']:.2f}",
                     fmt_ratio(ratio(fb["recall"], ref["recall"])), ">= 0.90", fb["recall"] >= 0.9))
        rows.append((f"In-scope sent to fallback, {name}", pct(fb["in_scope_to_fallback"]), SYSTEMS[best],
                     pct(ref["in_scope_to_fallback"]), fmt_ratio(ratio(fb["in_scope_to_fallback"], ref["in_scope_to_fallback"])),
                     "<= 3 %", fb["in_scope_to_fallback"] <= 0.03))
    if load:
        for users in sorted(load["runs"]["ours"], key=int):
            ours, stock = load["runs"]["ours"][users], load["runs"]["stock"][users]
            target = users == "10"
            rows.append((f"p95 latency, {users} visitor(s)", f"{ours['p95_ms']:.0f} ms", "stock rasa init",
                         f"{stock['p95_ms']:.0f} ms", fmt_ratio(ratio(ours["p95_ms"], stock["p95_ms"])),
                         "<= stock" if target else "(reported)", ours["p95_ms"] <= stock["p95_ms"] if target else None))
            rows.append((f"Messages/s, {users} visitor(s)", f"{ours['msgs_per_s']:.1f}", "stock rasa init",
                         f"{stock['msgs_per_s']:.1f}", fmt_ratio(ratio(ours["msgs_per_s"], stock["msgs_per_s"])),
                         ">= stock" if target else "(reported)",
                         ours["msgs_per_s"] >= stock["msgs_per_s"] if target else None))
            rows.append((f"Errors, {users} visitor(s)", f"{ours['errors']}/{ours['requests']}", "stock rasa init",
                         f"{stock['errors']}/{stock['requests']}", "", "(reported)", None))
        m = load["memory"]
        rows.append(("Rasa server peak RSS", f"{m['ours_rasa_mb']:.0f} MB", "stock rasa init", f"{m['stock_rasa_mb']:.0f} MB",
                     fmt_ratio(ratio(m["ours_rasa_mb"], m["stock_rasa_mb"])), "<= stock",
                     m["ours_rasa_mb"] <= m["stock_rasa_mb"]))
        rows.append(("Action server peak RSS", f"{m['ours_actions_mb']:.0f} MB", "(stock has none)", "", "", "(reported)",
                     None))
    if training:
        ours, stock = training["ours_full"], training["stock_full"]
        rows.append(("Full training, empty cache", f"{ours['seconds']:.0f} s", "stock rasa init", f"{stock['seconds']:.0f} s",
                     fmt_ratio(ratio(ours["seconds"], stock["seconds"])), "< 180 s on 2 cores", ours["seconds"] < 180))
        rows.append(("Re-run, no change: bot.nlu.training", f"{training['ours_rerun_fingerprint']['seconds']:.1f} s", "", "",
                     "", "(reported)", None))
        rows.append(("Re-run, no change: rasa train", f"{training['ours_rerun_rasa']['seconds']:.0f} s", "", "", "",
                     "(reported)", None))
        rows.append(("Model size", f"{training['ours_model_mb']:.1f} MB", "stock rasa init",
                     f"{stock['model_mb']:.1f} MB", fmt_ratio(ratio(training["ours_model_mb"], stock["model_mb"])),
                     "(reported)", None))
    # numpy booleans are not `False`, and would not survive json as booleans either.
    return [(*row[:6], None if row[6] is None else bool(row[6])) for row in rows]


def met_text(met) -> str:
    return "" if met is None else ("met" if met else "MISSED")


def table(rows: list) -> str:
    head = "| Figure | Assistant | Reference | Reference value | Ratio | Target | Result |\n|---|---|---|---|---|---|---|\n"
    return head + "".join(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]} | {met_text(r[6])} |\n" for r in rows)


def plain_table(rows: list) -> str:
    widths = [max(len(str(r[i])) for r in rows + [HEADER]) for i in range(6)] + [6]
    lines = []
    for r in [HEADER] + rows:
        cells = list(r[:6]) + [met_text(r[6]) if r is not HEADER else r[6]]
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip())
    return "\n".join(lines)


HEADER = ("Figure", "Assistant", "Reference", "Ref. value", "Ratio", "Target", "Result")


def quality_tables(q: dict) -> str:
    parts = []
    for scope, title in (("cv", f"Cross-validation (folds {', '.join(map(str, q['folds_run']))} of {q['n_folds']}, "
                                 f"{q['cv']['rasa']['n']} examples)"),
                         ("heldout", f"Held-out questions ({q['heldout_n']}, bench/heldout/labelled.yml)")):
        parts.append(f"### {title}\n\n| Topic group | n | " + " | ".join(
            f"{SYSTEMS[s]} acc / macro F1" for s in SYSTEMS) + " |\n|---|---|---|---|---|\n")
        for group, figures in q[scope]["rasa"]["groups"].items():
            cells = [f"{pct(q[scope][s]['groups'][group]['accuracy'])} / {q[scope][s]['groups'][group]['macro_f1']:.3f}"
                     for s in SYSTEMS]
            parts.append(f"| {group} | {figures['n']} | " + " | ".join(cells) + " |\n")
        parts.append("\n| Fallback (out_of_scope/* or nlu_fallback) | " + " | ".join(SYSTEMS.values())
                     + " |\n|---|---|---|---|\n")
        for key, name in (("precision", "precision"), ("recall", "recall"),
                          ("in_scope_to_fallback", "in-scope sent to fallback")):
            parts.append(f"| {name} | " + " | ".join(
                (pct if key == "in_scope_to_fallback" else lambda v: f"{v:.3f}")(q[scope][s]["fallback"][key])
                for s in SYSTEMS) + " |\n")
        parts.append("\n")
    parts.append("### F1 per FAQ topic (cross-validation)\n\n| Topic | " + " | ".join(SYSTEMS.values())
                 + " |\n|---|---|---|---|\n")
    for topic in sorted(q["cv"]["rasa"]["faq_f1"]):
        parts.append(f"| {topic} | " + " | ".join(f"{q['cv'][s]['faq_f1'][topic]:.2f}" for s in SYSTEMS) + " |\n")
    return "".join(parts)


work_dir = BENCH / "work"


def write_report(mode: str, q: dict, load: dict, training: dict, rows: list, out: Path, run_seconds,
                 evaluated: Optional[dict] = None) -> str:
    now = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [
        f"# Benchmark report ({mode})\n",
        f"Run {now} on {os.cpu_count()} CPU(s), {platform.machine()}, Python {platform.python_version()} (bench/.venv), "
        f"load average at the end {os.getloadavg()[0]:.2f}. "
        + (f"The whole run took {run_seconds / 60:.1f} minutes. " if run_seconds else "")
        + "The machine is shared, so absolute times vary with whatever else runs; every reference was measured "
        "in the same run, beside the assistant, and the ratios are the figures to compare between runs.\n",
        f"Made by `make {'bench' if mode == 'full' else 'bench-quick'}` (bench/run.sh); the summary table is "
        "also printed at the end of the run and kept in summary.json.\n",
        "## Summary\n", table(rows), "",
        "Ratio = assistant / reference. For latency, memory and training time lower is better; for accuracy, "
        "recall and messages per second higher is better.\n",
        *evaluation_sections(evaluated or {}),
        "## 1. Answer quality\n",
        f"Labels are the plain intents and, for the retrieval intents, the sub-intent (`faq/cost`). The project's "
        f"pipeline (config.yml) was trained on each fold's remaining data with `rasa.model_training.train_nlu`; its "
        f"label is the intent, or the ResponseSelector's `intent_response_key` for retrieval intents, or "
        f"`nlu_fallback` when the FallbackClassifier fired. Folds: {q['n_folds']}-fold stratified split by label, "
        f"seed {q['seed']}, of the {q['examples']} examples of data/nlu; this run used folds "
        f"{', '.join(map(str, q['folds_run']))}. The held-out questions were scored with the assistant's real model "
        f"(trained on all data); the baselines were trained on all data for them as well.\n",
        "Baseline fallback thresholds (chosen on each training fold only: the threshold with the highest fallback "
        "recall on the fold's training out_of_scope examples while sending at most 3 % of its training in-scope "
        "examples to fallback, from out-of-fold confidences: inner 3-fold CV for the regression, leave-one-out for "
        "the nearest neighbour): "
        + "; ".join(f"{SYSTEMS[s]}: folds {v['folds']}, full data {v['heldout']}" for s, v in q["thresholds"].items())
        + ".\n",
        quality_tables(q),
        "![F1 per FAQ topic](f1_per_topic.png)\n\n![Macro F1 per topic group](f1_per_group.png)\n",
        f"Rasa fold training took {', '.join(f'{s:.0f} s' for s in q['rasa_train_seconds'])}; parsing one message "
        f"took {q['rasa_parse_ms']:.1f} ms on average.\n",
    ]
    if q["heldout_errors"]:
        lines.append("<details><summary>Held-out questions the assistant got wrong "
                     f"({len(q['heldout_errors'])})</summary>\n\n| Text | Expected | Assistant |\n|---|---|---|\n"
                     + "".join(f"| {e['text']} | {e['expected']} | {e['rasa']} |\n" for e in q["heldout_errors"])
                     + "\n</details>\n")
    if load:
        ours_desc = ("the website app's `POST /chat` (the widget's channel), which relays to Rasa's REST channel"
                     if load["target"] == "chat" else "Rasa's REST webhook (`POST /webhooks/rest/webhook`)")
        lines += [
            "## 2. Latency and throughput\n",
            f"Load generated with Locust, headless (`locust --headless -u N -r N --run-time {next(iter(load['runs']['ours'].values()))['seconds']}s`, "
            "bench/locustfile.py). Each simulated visitor has whole conversations of 13 messages with a "
            f"{load['think_s']} s pause between messages: for the assistant a greeting, three questions and a "
            "complete callback request (consent, name, a valid UK mobile number, voicemail, time, role skipped, note "
            "skipped, confirmation) through " + ours_desc + "; each request stores a callback in a temporary SQLite "
            "database. For the reference, the stock `rasa init --no-prompt` assistant received 13 messages its "
            "intents understand through its REST webhook. Both ran at the same time and the runs alternated. "
            "Latency is per message (one HTTP round trip); Rasa CPU ms/msg is the Rasa server's CPU time "
            "(user + system, from /proc, TensorFlow's threads included) during the run divided by the messages it "
            "answered. Locust rounds percentiles above 100 ms to 2 significant "
            "digits. An error is a non-200 status, an empty or malformed reply, or (assistant) a callback not "
            "confirmed with a reference.\n"
            + (f"\nNote: {load['note']}\n" if load.get("note") else ""),
        ]
        rows_text = ("| Visitors | System | requests | errors | p50 ms | p95 ms | p99 ms | msgs/s | Rasa CPU ms/msg "
                     "| load avg before/after |\n|---|---|---|---|---|---|---|---|---|---|\n")
        for users in sorted(load["runs"]["ours"], key=int):
            for kind in ("ours", "stock"):
                r = load["runs"][kind][users]
                rows_text += (f"| {users} | {'assistant' if kind == 'ours' else 'stock'} | {r['requests']} | {r['errors']} | "
                             f"{r['p50_ms']:.0f} | {r['p95_ms']:.0f} | {r['p99_ms']:.0f} | {r['msgs_per_s']:.2f} | "
                             f"{r.get('rasa_cpu_ms_per_msg', 'n/a')} | {r['load_before']} / {r['load_after']} |\n")
        lines.append(rows_text)
        steps = step_table(work_dir, load)
        if steps:
            lines.append(steps)
        errors = [(kind, u, f) for kind in ("ours", "stock") for u, r in load["runs"][kind].items() for f in r["failures"]]
        if errors:
            lines.append("\nErrors: " + "; ".join(f"{k} u={u} message {f['step']}: {f['error']} x{f['count']}"
                                                   for k, u, f in errors) + "\n")
        lines.append("\n![Latency percentiles](latency.png)\n")
        m = load["memory"]
        lines += [
            "## 3. Memory\n",
            "Peak resident set size (VmHWM from /proc/<pid>/status, summed over the process and its children) "
            "after the load runs.\n",
            f"| Process | peak RSS |\n|---|---|\n| Assistant: Rasa server | {m['ours_rasa_mb']} MB |\n"
            f"| Assistant: action server | {m['ours_actions_mb']} MB |\n"
            + (f"| Assistant: website app | {m['ours_web_mb']} MB |\n" if m.get("ours_web_mb") else "")
            + f"| Stock rasa init: Rasa server | {m['stock_rasa_mb']} MB |\n",
        ]
    if training:
        comps = sorted(training["ours_full"]["components"].items(), key=lambda kv: -kv[1])
        stock_comps = sorted(training["stock_full"]["components"].items(), key=lambda kv: -kv[1])
        lines += [
            "## 4. Training\n",
            "On copies of the training inputs with `RASA_CACHE_DIRECTORY` set to a new, empty directory (Rasa's "
            "training cache, rasa/engine/caching.py), so nothing is reused from earlier runs.\n",
            f"| Run | time |\n|---|---|\n| Assistant: `rasa train --force`, empty cache | {training['ours_full']['seconds']} s |\n"
            f"| Assistant: `rasa train` again, no change (Rasa's fingerprint and cache) | {training['ours_rerun_rasa']['seconds']} s |\n"
            f"| Assistant: `python -m bot.nlu.training`, no change (the project's fingerprint) | {training['ours_rerun_fingerprint']['seconds']} s |\n"
            f"| Stock rasa init: `rasa train --force`, empty cache | {training['stock_full']['seconds']} s |\n",
            f"\nModel size on disk: assistant {training['ours_model_mb']} MB, stock {training['stock_full']['model_mb']} MB. "
            f"Load average before/after the full training: {training['ours_full']['load_before']} / "
            f"{training['ours_full']['load_after']}.\n",
            "\nWhere the assistant's training time goes (from Rasa's component log lines; components used twice, such as the two ResponseSelectors, are summed):\n\n| Component | s |\n|---|---|\n"
            + "".join(f"| {name} | {s} |\n" for name, s in comps)
            + "\nStock: " + ", ".join(f"{name} {s} s" for name, s in stock_comps[:5]) + ".\n",
        ]
    else:
        lines.append("## 4. Training\n\nNot measured in the quick run (`bench/run.sh full` measures it).\n")
    missed = [r for r in rows if r[6] is False]
    lines.append("## Targets missed\n")
    if not missed:
        lines.append("None.\n")
    for r in missed:
        lines.append(f"- **{r[0]}**: {r[1]} against target {r[5]} (reference {r[3]}). {explain(r, q, load, training)}\n")
    text = "\n".join(lines)
    (out / "report.md").write_text(text)
    return text


OUR_STEPS = ["greeting", "question", "question", "question", "asks for a callback", "consent: yes", "name",
             "phone number", "voicemail: /affirm", "time: evenings", "role: Skip", "note: Skip", "confirm: /affirm"]


def step_latency(work: Path, kind: str, users: str) -> dict:
    path = work / "load" / f"{kind}-u{users}_stats.csv"
    if not path.exists():
        return {}
    import csv

    with open(path, newline="") as handle:
        return {row["Name"]: row for row in csv.DictReader(handle) if row["Name"] != "Aggregated"}


def busiest(load: dict) -> str:
    return "10" if "10" in load["runs"]["ours"] else max(load["runs"]["ours"], key=int)


def step_table(work: Path, load: dict) -> str:
    users = busiest(load)
    ours, stock = step_latency(work, "ours", users), step_latency(work, "stock", users)
    if not ours:
        return ""
    text = (f"\nPer message of the conversation at {users} visitors (median / p95 ms), which shows where the "
            "time goes:\n\n| # | Assistant's message | assistant | stock |\n|---|---|---|---|\n")
    for number in sorted(ours):
        index = int(number) - 1
        other = stock.get(number)
        text += (f"| {number} | {OUR_STEPS[index] if index < len(OUR_STEPS) else ''} | {ours[number]['50%']} / "
                 f"{ours[number]['95%']} | " + (f"{other['50%']} / {other['95%']}" if other else "") + " |\n")
    return text


def explain(row, q, load, training) -> str:
    name = row[0]
    if name.startswith("FAQ-topic"):
        errors = [e for e in q["heldout_errors"] if e["expected"].startswith("faq/")]
        ours, tfidf = q["cv_faq_errors"]["rasa"], q["cv_faq_errors"]["tfidf_lr"]
        n_heldout = q["heldout"]["rasa"]["groups"]["FAQ topics"]["n"]
        text = (f"The assistant mislabelled {len(errors)} of {n_heldout} held-out FAQ questions (listed above), so "
                f"one question there is {100 / n_heldout:.1f} points. In cross-validation it got {ours['wrong']} of "
                f"{ours['n']} FAQ questions wrong, {ours['to_fallback']} of them sent to fallback; TF-IDF + logistic "
                f"regression got {tfidf['wrong']} wrong, {tfidf['to_fallback']} to fallback. ")
        fallback_points = 100 * (ours["to_fallback"] - tfidf["to_fallback"]) / ours["n"]
        if ours["wrong"] <= tfidf["wrong"]:
            text += "Over those many more questions the assistant makes fewer mistakes than the regression. "
        elif fallback_points >= 0.5:
            text += (f"So about {fallback_points:.0f} points of the gap are the FallbackClassifier's threshold (0.5, "
                     "set so that the held-out fallback targets are met), and the regression confuses topics less "
                     "often. ")
        return text + ("The mistakes left are confusions between topics whose questions overlap in everyday wording "
                       "(see the F1 per topic); the next step is sharper examples for the overlapping topics, or "
                       "merging them.")
    if "fallback" in name.lower():
        fb = q["heldout"]["rasa"]["fallback"]
        wrong = [e for e in q["heldout_errors"] if e["expected"].startswith("out_of_scope/") and not is_fallback(e["rasa"])]
        false = [e for e in q["heldout_errors"] if not e["expected"].startswith("out_of_scope/") and is_fallback(e["rasa"])]
        return (f"Held-out: {len(wrong)} out-of-scope questions answered as in scope "
                f"({', '.join(repr(e['text']) + ' -> ' + e['rasa'] for e in wrong[:5])}); {len(false)} in-scope "
                f"questions sent to fallback ({', '.join(repr(e['text']) + ' -> ' + e['rasa'] for e in false[:5])}). "
                f"Precision {fb['precision']:.2f}.")
    if "latency" in name or "Messages/s" in name:
        users = busiest(load)
        ours, stock = load["runs"]["ours"][users], load["runs"]["stock"][users]
        steps = step_latency(work_dir, "ours", users)
        slow = sorted(steps.items(), key=lambda kv: -float(kv[1]["95%"]))[:4]
        questions = [float(steps[n]["50%"]) for n in ("02", "03", "04") if n in steps]
        question_median = f"{sorted(questions)[len(questions) // 2]:.0f}" if questions else "n/a"
        cpu = (f" The Rasa server used {ours['rasa_cpu_ms_per_msg']} ms of CPU per message against the stock "
               f"server's {stock['rasa_cpu_ms_per_msg']} ms." if "rasa_cpu_ms_per_msg" in ours else "")
        return (f"Mean {ours['mean_ms']} ms against {stock['mean_ms']} ms at {users} visitors.{cpu} The slowest "
                f"messages by p95 are " + ", ".join(f"#{n} {OUR_STEPS[int(n) - 1]} ({r['95%']} ms)" for n, r in slow)
                + f" (table above). The three FAQ questions (#02-#04) have a median of {question_median} ms, about "
                "what the stock bot needs per message, so the NLU model and the website hop are not where the "
                "time goes. The slow ones are the callback-form steps: each calls the action server once "
                "(#06-#11: validation) or twice (#05: validation and the consent question; #12: validation and "
                "the summary; #13: validation and storing the request); the stock bot runs no custom actions. "
                "With one visitor such a call takes about 10 ms. Under load, while a step waits for the action "
                "server, Rasa's single event loop runs other conversations' model inference (20-30 ms each, not "
                "interruptible), so a step with two calls queues three times. Fixed: Rasa re-checked its constant "
                "JSON schema against the meta-schema on every action reply (18 ms of CPU each); "
                "bot/nlu/rasa_server.py builds the validator once. Not done: more Sanic workers would need a shared "
                "lock store and tracker store (Redis or a database), which the in-memory, forgetful tracker store "
                "avoids on purpose so that nothing typed is written to disk, and each worker loads its own copy "
                "of the model. With the visitors' 0.5 s pauses, messages/s follows latency: a slower reply means "
                "fewer messages in the same time.")
    if "RSS" in name:
        return ("Not profiled further. Both servers share the same base (Python, TensorFlow, Sanic); the difference "
                "is what the model loads: the assistant's pipeline has a DIET classifier and two ResponseSelectors "
                "(the stock pipeline one ResponseSelector), char 1-4-gram count vectors over a larger vocabulary, "
                "and more domain and rules. Compare the model sizes in section 4 (full run).")
    if "training" in name.lower():
        comps = sorted(training["ours_full"]["components"].items(), key=lambda kv: -kv[1])[:4]
        return ("Profile of the training run: " + ", ".join(f"{n} {s} s" for n, s in comps)
                + f". Load average before/after: {training['ours_full']['load_before']} / "
                f"{training['ours_full']['load_after']} (the machine is shared).")
    return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", default="quick")
    parser.add_argument("--work", type=Path, default=BENCH / "work")
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    parser.add_argument("--run-seconds", type=float)
    args = parser.parse_args()
    global work_dir
    work_dir = args.work
    args.out.mkdir(parents=True, exist_ok=True)
    q = quality(args.work / "quality")
    load_file, training_file = args.work / "load" / "load.json", args.work / "training" / "training.json"
    load = json.loads(load_file.read_text()) if load_file.exists() else None
    training = json.loads(training_file.read_text()) if (args.mode == "full" and training_file.exists()) else None
    chart_quality(q, args.out / "f1_per_topic.png", args.out / "f1_per_group.png")
    if load:
        chart_latency(load, args.out / "latency.png")
    evaluated = evaluations(args.work)
    rows = build_summary(q, load, training, evaluated)
    write_report(args.mode, q, load, training, rows, args.out, args.run_seconds, evaluated)
    summary = {
        "mode": args.mode, "finished": dt.datetime.now().isoformat(timespec="seconds"), "cpus": os.cpu_count(),
        "run_seconds": args.run_seconds,
        "table": [dict(zip(("figure", "assistant", "reference", "reference_value", "ratio", "target", "met"), r))
                  for r in rows],
        "quality": q, "load": load, "training": training,
        "evaluation": {name: {key: value for key, value in result.items() if key in ("questions", "callers")}
                       for name, result in evaluated.items()},
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1, default=float))
    print(plain_table(rows))
    print(f"\nReport: {args.out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
