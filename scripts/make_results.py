#!/usr/bin/env python3
"""Collects the runs of scripts/run-experiments.sh (runs/) into the results docs and plots.

Writes docs/results/{formal_scores,formal_lengths,imdb}.csv, the two markdown tables between the
<!-- formal-table --> and <!-- imdb-table --> markers of docs/RESULTS.md, and the gnuplot PNGs
in docs/img/. Usage: scripts/make_results.py [runs-dir]
"""
import csv
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "runs")
DOCS = os.path.join(ROOT, "docs")

TASKS = [("R", "even_pairs"), ("R", "modular_arithmetic"), ("R", "parity_check"), ("R", "cycle_navigation"),
         ("DCF", "stack_manipulation"), ("DCF", "reverse_string"), ("DCF", "modular_arithmetic_brackets"),
         ("DCF", "solve_equation"), ("CS", "duplicate_string"), ("CS", "missing_duplicate_string"),
         ("CS", "odds_first"), ("CS", "binary_addition"), ("CS", "binary_multiplication"), ("CS", "compute_sqrt"),
         ("CS", "bucket_sort")]
MODELS = [("rnn", "RNN"), ("lstm", "LSTM"), ("transformer", "Transformer"), ("prlstm", "PR-LSTM")]

# Delétang et al. (2023), best of 10 seeds x 3 learning rates, 1M steps, lengths 41..500
# (docs/PR-LSTM.md, "Sources": which of these cells could not be confirmed in a source).
DELETANG = {
    "even_pairs": (100.0, 100.0, 96.4), "modular_arithmetic": (100.0, 100.0, 24.2),
    "parity_check": (100.0, 100.0, 52.0), "cycle_navigation": (100.0, 100.0, 61.9),
    "stack_manipulation": (56.0, 59.1, 57.5), "reverse_string": (62.0, 60.9, 62.3),
    "modular_arithmetic_brackets": (41.3, 59.2, 32.5), "solve_equation": (51.0, 67.8, 25.7),
    "duplicate_string": (50.3, 57.6, 52.8), "missing_duplicate_string": (52.3, 54.3, 100.0),
    "odds_first": (51.0, 55.6, 52.8), "binary_addition": (50.3, 55.5, 54.3),
    "binary_multiplication": (50.0, 53.1, 52.2), "compute_sqrt": (54.3, 57.5, 52.4),
    "bucket_sort": (27.9, 99.3, 91.9),
}
# PR-LSTM paper Table 2 as far as recovered (docs/PR-LSTM.md, "Sources"): one run, seed 0, lr 1e-3, 1M steps.
PR_PAPER = {"bucket_sort": "**99.4**", "missing_duplicate_string": "**100**", "binary_multiplication": "52.9",
            "compute_sqrt": "56.8", "duplicate_string": "5x.x"}

IMDB_ROWS = [("lstm", "LSTM"), ("gru", "GRU"), ("bilstm", "BiLSTM"), ("qllstm", "QL-LSTM (PSUG + HGR-ASC, K=16)"),
             ("qllstm-psug-only", "QL-LSTM, PSUG only"), ("qllstm-hgr-only", "QL-LSTM, HGR-ASC only (K=16)"),
             ("qllstm-k8", "QL-LSTM, K=8"), ("qllstm-k32", "QL-LSTM, K=32"), ("qllstm-k64", "QL-LSTM, K=64")]
LENGTHS = [256, 512, 1024]


def load(path):
    with open(path) as f:
        return json.load(f)


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def write_csv(path, header, rows):
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    os.replace(tmp, path)


def portable(command):
    """The command with the IMDB folder of the machine that ran it written as $IMDB_DIR (docs/RESULTS.md
    says where to get the data)."""
    return re.sub(r"--data-dir \S+", "--data-dir $IMDB_DIR", command)


def replace_section(path, marker, text):
    with open(path) as f:
        doc = f.read()
    begin, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    if begin not in doc or end not in doc:
        sys.exit(f"{path} lacks the markers {begin} ... {end}")
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(path + ".tmp", "w") as f:
        f.write(head + begin + "\n" + text + end + tail)
    os.replace(path + ".tmp", path)


def gnuplot(script):
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


def formal():
    runs = {}
    for model, _ in MODELS:
        for _, task in TASKS:
            d = os.path.join(RUNS, "formal", model, task)
            if os.path.exists(os.path.join(d, "summary.json")):
                runs[(model, task)] = (load(os.path.join(d, "summary.json")), d)
    write_csv(os.path.join(DOCS, "results", "formal_scores.csv"),
              ["task", "model", "score", "solved", "steps", "train_seconds", "tokens_per_second", "parameters",
               "command"],
              [[task, model, f"{s['score']:.4f}", int(s["solved"]), s["steps"], f"{s['train_seconds']:.1f}",
                f"{s['tokens_per_second']:.0f}", s["parameters"], s["command"]]
               for (model, task), (s, _) in sorted(runs.items())])
    length_rows = []
    for (model, task), (_, d) in sorted(runs.items()):
        for r in read_csv(os.path.join(d, "lengths.csv")):
            length_rows.append([task, model, r["length"], r["accuracy"]])
    write_csv(os.path.join(DOCS, "results", "formal_lengths.csv"), ["task", "model", "length", "accuracy"],
              length_rows)

    def cell(model, task):
        if (model, task) not in runs:
            return "not run"
        score = 100 * runs[(model, task)][0]["score"]
        return f"**{score:.1f}**" if score >= 90 else f"{score:.1f}"

    lines = ["| Level | Task | RNN | LSTM | Transformer | PR-LSTM | Delétang RNN | Delétang LSTM | "
             "Delétang Transformer | PR-LSTM paper |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for level, task in TASKS:
        ours = " | ".join(cell(m, task) for m, _ in MODELS)
        ref = " | ".join(f"**{v:.1f}**" if v >= 90 else f"{v:.1f}" for v in DELETANG[task])
        lines.append(f"| {level} | {task} | {ours} | {ref} | {PR_PAPER.get(task, 'not recovered')} |")
    solved = " | ".join(str(sum(1 for _, t in TASKS if (m, t) in runs and runs[(m, t)][0]["solved"]))
                        for m, _ in MODELS)
    ref_solved = " | ".join(str(sum(1 for _, t in TASKS if DELETANG[t][i] >= 90)) for i in range(3))
    lines.append(f"| | **solved (>= 90%)** | {solved} | {ref_solved} | |")
    replace_section(os.path.join(DOCS, "RESULTS.md"), "formal-table", "\n".join(lines) + "\n")

    # The extended runs (10,000 steps) beside the same cells at 2,000 steps.
    ext = ["| Task | Model | score at 2,000 steps | score at 10,000 steps | train seconds (10,000 steps) |",
           "|---|---|---|---|---|"]
    ext_rows = []
    for model, name in MODELS:
        for _, task in TASKS:
            path = os.path.join(RUNS, "formal-10k", model, task, "summary.json")
            if not os.path.exists(path):
                continue
            s10 = load(path)
            ext_rows.append([task, model, f"{s10['score']:.4f}", int(s10["solved"]), s10["steps"],
                             f"{s10['train_seconds']:.1f}", f"{s10['tokens_per_second']:.0f}", s10["parameters"],
                             s10["command"]])
            score10 = 100 * s10["score"]
            ext.append(f"| {task} | {name} | {cell(model, task)} | "
                       f"{f'**{score10:.1f}**' if score10 >= 90 else f'{score10:.1f}'} | {s10['train_seconds']:.0f} |")
    write_csv(os.path.join(DOCS, "results", "formal_10k_scores.csv"),
              ["task", "model", "score", "solved", "steps", "train_seconds", "tokens_per_second", "parameters",
               "command"], ext_rows)
    replace_section(os.path.join(DOCS, "RESULTS.md"), "formal-10k-table",
                    ("\n".join(ext) if ext_rows else "(not run)") + "\n")

    with tempfile.TemporaryDirectory() as tmp:
        # Accuracy against test length, one panel per task.
        for (model, task), (_, d) in runs.items():
            os.link(os.path.join(d, "lengths.csv"), os.path.join(tmp, f"len_{model}_{task}.csv"))
            log = os.path.join(d, "log.csv")
            if os.path.exists(log):
                os.link(log, os.path.join(tmp, f"log_{model}_{task}.csv"))
        colors = {"rnn": "#1b9e77", "lstm": "#d95f02", "transformer": "#7570b3", "prlstm": "#e7298a"}

        def panels(kind, xcol, ycol, xlabel, ylabel, yrange, out, title):
            s = [f"set terminal pngcairo size 1800,1500 font ',10'", f"set output '{out}'",
                 "set datafile separator ','", "set termoption noenhanced", "set key bottom left opaque font ',8'", f"set multiplot layout 4,4 title '{title}'"]
            for _, task in TASKS:
                s += [f"set title '{task}'", f"set xlabel '{xlabel}'", f"set ylabel '{ylabel}'",
                      f"set yrange {yrange}", "set grid"]
                plots = [f"'{tmp}/{kind}_{m}_{task}.csv' every ::1 using {xcol}:({ycol}) with lines lw 2 "
                         f"lc rgb '{colors[m]}' title '{name}'"
                         for m, name in MODELS if os.path.exists(f"{tmp}/{kind}_{m}_{task}.csv")]
                s.append("plot " + ", ".join(plots) if plots else "plot NaN notitle")
            s.append("unset multiplot")
            gnuplot("\n".join(s) + "\n")

        panels("len", 1, "100*$2", "test length", "accuracy %", "[0:105]",
               os.path.join(DOCS, "img", "formal_accuracy_vs_length.png"),
               "Formal tasks (reduced protocol): accuracy against test length (trained on lengths 1..40)")
        panels("log", 1, "100*$4", "step", "train accuracy %", "[0:105]",
               os.path.join(DOCS, "img", "formal_training_curves.png"),
               "Formal tasks (reduced protocol): training accuracy (mean over 100 steps)")
    return runs


def imdb():
    rows, table = [], []
    for length in LENGTHS:
        for name, label in IMDB_ROWS:
            d = os.path.join(RUNS, "imdb", f"L{length}", name)
            if not os.path.exists(os.path.join(d, "summary.json")):
                table.append((length, name, label, None, d))
                continue
            s = load(os.path.join(d, "summary.json"))
            rows.append([name, length, s["embed"], s["hidden"], f"{s['test_accuracy']:.4f}", f"{s['test_f1']:.4f}",
                         s["encoder_parameters"], s["parameters"], f"{s['seconds_per_epoch']:.1f}",
                         f"{s['tokens_per_second']:.0f}", portable(s["command"])])
            table.append((length, name, label, s, d))
    write_csv(os.path.join(DOCS, "results", "imdb.csv"),
              ["model", "L", "embed", "hidden", "test_accuracy", "test_f1", "recurrent_parameters",
               "total_parameters", "seconds_per_epoch", "tokens_per_second", "command"], rows)
    lines = ["| # | Model | L | Test acc. % | F1 | Recurrent-layer params | Whole-model params | s / epoch | "
             "train tokens/s |", "|---|---|---|---|---|---|---|---|---|"]
    commands = []
    for i, (length, name, label, s, d) in enumerate(table, 1):
        if s is None:
            lines.append(f"| {i} | {label} | {length} | not run | | | | | |")
            continue
        lines.append(f"| {i} | {label} | {length} | {100 * s['test_accuracy']:.1f} | {s['test_f1']:.3f} | "
                     f"{s['encoder_parameters']:,} | {s['parameters']:,} | {s['seconds_per_epoch']:.0f} | "
                     f"{s['tokens_per_second']:,.0f} |")
        commands.append(f"{i}. `{portable(s['command']).replace('build/examples/tapegrad-train', 'tapegrad-train')}`")
    text = "\n".join(lines) + "\n\nCommands (row number: command line):\n\n" + "\n".join(commands) + "\n"
    replace_section(os.path.join(DOCS, "RESULTS.md"), "imdb-table", text)

    done = [(length, name, label, s, d) for length, name, label, s, d in table if s is not None]
    if not done:
        return
    with tempfile.TemporaryDirectory() as tmp:
        points = {}
        for length, name, label, s, d in done:
            points.setdefault(length, []).append(
                f"{s['encoder_parameters']} {100 * s['test_accuracy']:.2f} \"{name}\"")
        plots = []
        styles = {256: (7, "#1b9e77"), 512: (5, "#d95f02"), 1024: (9, "#7570b3")}
        for length, pts in points.items():
            path = os.path.join(tmp, f"p{length}.dat")
            with open(path, "w") as f:
                f.write("\n".join(pts) + "\n")
            pt, color = styles[length]
            plots.append(f"'{path}' using 1:2 with points pt {pt} ps 2 lc rgb '{color}' title 'L = {length}'")
            plots.append(f"'{path}' using 1:2:3 with labels offset 0,1 font ',8' tc rgb '{color}' notitle")
        gnuplot("\n".join([
            "set terminal pngcairo size 1100,750 font ',11'", "set termoption noenhanced",
            f"set output '{os.path.join(DOCS, 'img', 'imdb_accuracy_vs_parameters.png')}'",
            "set title 'IMDB (reduced: E = H = 64, 1 epoch on 10,000 reviews): test accuracy against parameters'",
            "set xlabel 'recurrent-layer parameters (the whole model adds 1,280,128 embedding + the classifier)'",
            "set ylabel 'test accuracy % (5,000 reviews)'", "set grid", "set key outside right top",
            "set format x '%.0s%c'", "set offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05",
            "plot " + ", ".join(plots)]) + "\n")
        curves = []
        palette = ["#000000", "#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628", "#f781bf", "#999999"]
        for length, name, label, s, d in done:
            if length == 256:
                color = palette[len(curves) % len(palette)]
                dash = 1 if name in ("lstm", "gru", "bilstm", "qllstm") else 2
                curves.append(f"'{os.path.join(d, 'log.csv')}' every ::1 using 1:3 with lines lw 2 dt {dash} "
                              f"lc rgb '{color}' title '{name}'")
        gnuplot("\n".join([
            "set terminal pngcairo size 1100,650 font ',11'", "set termoption noenhanced",
            f"set output '{os.path.join(DOCS, 'img', 'imdb_training_curves.png')}'",
            "set datafile separator ','", "set title 'IMDB L = 256: training loss (mean over 20 steps)'",
            "set xlabel 'step (batch 32)'", "set ylabel 'cross-entropy'", "set grid", "set key outside right top",
            "plot " + ", ".join(curves)]) + "\n")


if __name__ == "__main__":
    formal()
    imdb()
    print("wrote docs/results/*.csv, the tables in docs/RESULTS.md and docs/img/*.png")
