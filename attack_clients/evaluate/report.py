"""``report.md`` and the self-contained ``report.html``: the study's tables next to ours, the
rounding answer, where we agree and where we don't, and every cell."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from attack_clients.attacks import ATTACKS
from attack_clients.evaluate.answers import cheapest_stop, utility_cost
from attack_clients.evaluate.attriguard_report import attriguard_section
from attack_clients.evaluate.document import Block, Bullets, Figure, Heading, Paragraph, Table, html_page, markdown
from attack_clients.evaluate.frontier import base_model, best_tradeoff, pareto, points, privacy_budgets
from attack_clients.evaluate.results import ALPHA, index
from attack_clients.evaluate.split_report import split_section
from attack_clients.evaluate.study import (
    CITATION,
    DATASETS,
    STUDY_TREE_TABLE,
    TABLE_NOTE,
    TREE_ROWS,
    our_tree_row,
    why_it_stopped,
)
from attack_clients.evaluate.sweep import ROUNDING

Summary = Mapping[str, Any]


def _num(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{float(value):.{digits}f}"


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.1f}"


def _mark(row: Mapping[str, Any] | None) -> str:
    if row is None:
        return "(pending)"
    if row.get("status") != "ok":
        return "n/a"
    return f"{_num(row.get('success'), 2)} {'✓' if row.get('works') else '✗'}"


def _title(attack: str) -> str:
    return ATTACKS[attack].title if attack in ATTACKS else attack


def overview(summary: Summary) -> list[Block]:
    run = summary["run"]
    data = summary.get("data_dir") or "none (built-in fallbacks: digits faces, fair-tree)"
    failed = summary.get("failed") or {}
    lines = [
        f"Profile {summary['profile']}; service {summary['service']['url']} "
        f"({'started by this run' if summary['service']['started_here'] else 'given'}); data {data}.",
        f"Cells finished: {summary['finished_cells']} of {summary['grid_cells']} in the grid"
        + (
            f" (partial sweep: rerun to compute the other {summary['grid_cells'] - summary['finished_cells']})"
            if summary["finished_cells"] < summary["grid_cells"]
            else ""
        )
        + (f"; {len(failed)} failed (retried on the next run): {', '.join(sorted(failed))}" if failed else "")
        + ".",
        f"This invocation computed {len(run['computed'])} cells ({run['already_done']} were already stored) in "
        f"{run['seconds']:.0f} s wall time on {run['executor']}; the finished cells' own compute adds up to "
        f"{summary['compute_seconds']:.0f} s.",
        f"Models: faces {', '.join(summary['models']['face']) or 'none'}; trees "
        f"{', '.join(summary['models']['tree']) or 'none'}.",
    ]
    return [Heading(f"Model-inversion evaluation ({summary['profile']} profile)", 1), Bullets(tuple(lines))]


def rounding_section(summary: Summary, rows: Sequence[Mapping[str, Any]]) -> list[Block]:
    by_cell = index(rows)
    table = []
    for answer in summary["rounding_answers"]:
        attack, model = answer["attack"], answer["model"]
        none = by_cell.get((attack, model, "none"))
        table.append(
            (
                _title(attack),
                model,
                f"{_mark(none)} (chance {_num(none.get('chance'), 2) if none else '-'})",
                *(_mark(by_cell.get((attack, model, f"round-{r:g}"))) for r in ROUNDING),
                answer["sentence"]
                + (
                    why_it_stopped(by_cell.get((attack, model, f"round-{answer['stops_at']:g}")))
                    if answer["stops_at"] is not None
                    else ""
                ),
            )
        )
    cheapest = []
    for answer in summary["rounding_answers"]:
        best = cheapest_stop(rows, answer["attack"], answer["model"])
        if best is not None:
            cost = utility_cost(best)
            cheapest.append(
                (
                    _title(answer["attack"]),
                    answer["model"],
                    best["defence"],
                    f"{cost['brier']:+.4f}",
                    "-" if cost["accuracy"] is None else f"{cost['accuracy']:+.4f}",
                )
            )
    return [
        Heading("Answer: at which rounding level does each attack stop working?"),
        Paragraph(
            "An attack works in a cell when its success beats chance by a one-sided exact binomial test at "
            f"{ALPHA:g}: faces, the face recogniser's top-1 identification (k hits of n judged "
            "reconstructions, chance 1/classes; see the judges below); trees, the precision of the sensitive 'yes' "
            "on training targets "
            "(k right of n announced, chance the share of 'yes'). It stops working at r when it works undefended "
            "and no longer does at r and at every coarser level tested. The cost is the model's held-out utility "
            "under that defence minus its clean utility (the service's /admin/models/<m>/utility)."
        ),
        Table(
            ("attack", "model", "none", *(f"r={r:g}" for r in ROUNDING), "answer"),
            tuple(table),
            "Success per rounding level (✓ above chance, ✗ not)",
        ),
        Table(
            ("attack", "model", "cheapest defence that stops it", "Brier increase", "accuracy change"),
            tuple(cheapest),
            "Over every defence in the grid, not only rounding",
        ),
    ]


def _base_trees(summary: Summary) -> list[str]:
    trees = summary["models"]["tree"]
    return [m for m in trees if base_model(m, trees) == m]


def tree_section(summary: Summary, rows: Sequence[Mapping[str, Any]]) -> list[Block]:
    by_cell = index(rows)
    blocks: list[Block] = [
        Heading("Decision trees: the study's table and ours"),
        Paragraph(
            "As in the study: accuracy, and precision and recall of the sensitive 'yes', in percent, on targets "
            "from the training data, undefended. White-box is white-box-with-counts over the downloaded tree, "
            "black-box the MAP estimator; random guesses uniformly, baseline always answers the majority value, "
            f"ideal learns x1 from the other features and the label on the training data; ART rows are IBM ART's "
            "attacks (black-box: its attack model trained on the held-out rows; white-box: its decision-tree attack "
            f"over the download). Study: {CITATION}; "
            f"{TABLE_NOTE}."
        ),
    ]
    for model in _base_trees(summary):
        wb, bb = by_cell.get(("tree-wbwc", model, "none")), by_cell.get(("tree-map", model, "none"))
        bb_train = by_cell.get(("tree-map-train", model, "none"))
        art = [(title, by_cell[(n, model, "none")]) for n, title in ART_TREE_ROWS if (n, model, "none") in by_cell]
        reference = wb or bb or next((cell for _, cell in art), None)
        study = STUDY_TREE_TABLE.get(model)
        table = []
        for who in TREE_ROWS:
            source, name = {"white-box": (wb, "attack"), "black-box": (bb, "attack")}.get(who, (reference, who))
            ours = our_tree_row(source, name) if source is not None else (None, None, None)
            theirs = tuple(f"{v:.1f}" for v in study[who]) if study else ("-", "-", "-")
            table.append((who, *(_pct(v) for v in ours), *theirs))
            if who == "black-box" and bb_train is not None:
                ours = our_tree_row(bb_train, "attack")
                table.append(("black-box, training-row confusion", *(_pct(v) for v in ours), "-", "-", "-"))
            if who == "black-box":
                table += [(title, *map(_pct, our_tree_row(cell, "attack")), "-", "-", "-") for title, cell in art]
        label = DATASETS.get(model, f"{model} (no counterpart in the study)")
        blocks.append(
            Table(
                ("", "ours acc", "ours prec", "ours rec", "study acc", "study prec", "study rec"),
                tuple(table),
                f"{label}: training targets ({_count(reference)} people)",
            )
        )
        held = []
        for who, source, name in (
            ("white-box", wb, "attack"),
            ("black-box", bb, "attack"),
            ("black-box, training-row confusion", bb_train, "attack"),
            *((title, cell, "attack") for title, cell in art),
            ("baseline", reference, "baseline"),
            ("ideal", reference, "ideal"),
        ):
            values = our_tree_row(source, name, "heldout") if source is not None else (None, None, None)
            held.append((who, *(_pct(v) for v in values)))
        blocks.append(Table(("", "acc", "prec", "rec"), tuple(held), f"{label}: held-out targets (ours only)"))
    return blocks


ART_TREE_ROWS = (("art-attr-wb", "ART white-box (decision tree)"), ("art-attr-bb", "ART black-box"))
"""IBM ART's attribute-inference attacks, as rows beside the study's attacks."""
TREE_ATTACKS = (
    ("tree-wbwc", "white-box"),
    ("tree-map", "MAP"),
    ("tree-map-train", "MAP, training confusion"),
    *ART_TREE_ROWS,
)


def tree_defense_section(summary: Summary, rows: Sequence[Mapping[str, Any]]) -> list[Block]:
    """Every tree beside its training defences, undefended output: held-out accuracy and each attack's
    precision / recall of 'yes' on training and held-out targets."""
    trees = summary["models"]["tree"]
    if len(_base_trees(summary)) == len(trees):
        return []
    by_cell, info = index(rows), summary.get("model_info") or {}
    table = []
    for model in sorted(trees, key=lambda m: (base_model(m, trees), m != base_model(m, trees), m)):
        cells = [by_cell.get((attack, model, "none")) for attack, _ in TREE_ATTACKS]
        accuracy = next((c.get("utility.clean_accuracy") for c in cells if c is not None), None)
        epsilon = (info.get(model) or {}).get("epsilon")
        figures = [
            f"{_pct(c.get(f'{split}.attack.precision'))} / {_pct(c.get(f'{split}.attack.recall'))}"
            if c is not None
            else "(pending)"
            for c in cells
            for split in ("training", "heldout")
        ]
        table.append((model, "-" if epsilon is None else f"{float(epsilon):g}", _num(accuracy), *figures))
    header = [f"{name} {split} prec / rec %" for _, name in TREE_ATTACKS for split in ("training", "held-out")]
    return [
        Heading("Trees: training defences"),
        Paragraph(
            "Each survey tree beside its privacy-aware versions (the sensitive feature forced to the root, or "
            "only right above the leaves) and diffprivlib's differentially private tree, undefended output. "
            "Precision / recall of the sensitive 'yes' ('-': never announced). MAP's confusion matrix comes from "
            "the held-out rows by default and from the training rows in the 'training confusion' columns (what "
            "a provider's evaluation on its own training data would publish)."
        ),
        Table(("model", "ε", "held-out accuracy", *header), tuple(table)),
    ]


def frontier_section(summary: Summary, rows: Sequence[Mapping[str, Any]]) -> list[Block]:
    """The privacy-utility frontier over training and output defences, and each attack's best trade-off."""
    info = summary.get("model_info") or {}
    sentences, front = [], []
    for attack in [name for name in ATTACKS if any(r["attack"] == name for r in rows)]:
        found = points(rows, info, attack)
        if not found:
            continue
        sentences.append(best_tradeoff(found, attack).sentence(_title(attack)))
        front.extend(
            (
                _title(attack),
                p.model,
                p.training,
                "-" if p.epsilon is None else f"{p.epsilon:g}",
                p.output,
                _num(p.accuracy),
                _num(p.success, 2) if p.said else "- (never 'yes')",
                "yes" if p.works else "no",
            )
            for base in dict.fromkeys(p.base for p in found)
            for p in pareto([p for p in found if p.base == base])
        )
    budgets = privacy_budgets(info)
    return [
        Heading("Privacy-utility frontier: training and output defences together"),
        Paragraph(
            "Every finished cell is a point: the model's held-out accuracy under the cell's output defence "
            "against the attack's success. Training-defended models sit beside their undefended base model (the "
            "model whose name theirs extends). The best trade-off of an attack is the defended cell where it no "
            "longer beats chance that keeps the most held-out accuracy relative to the undefended model it works "
            "on (ties: the smaller change of the Brier score, then lower success, then the simpler defence); the "
            "table lists each attack's Pareto front on each model with its training-defended versions (no other of "
            "those cells is both as accurate and as little attacked)."
        ),
        *(
            [Table(("model", "training defence", "ε", "δ", "held-out accuracy"), tuple(budgets), "Training defences")]
            if budgets
            else []
        ),
        Bullets(tuple(sentences)) if sentences else Paragraph("No finished cell has a held-out accuracy yet."),
        Table(
            ("attack", "model", "training defence", "ε", "output defence", "held-out accuracy", "success", "works"),
            tuple(front),
            "Pareto front per attack and model (with its training-defended versions)",
        ),
    ]


def _count(row: Mapping[str, Any] | None) -> str:
    return "-" if row is None or row.get("training.attack.n") is None else str(row["training.attack.n"])


def _judge_mark(row: Mapping[str, Any], judge: str) -> str:
    """A judge's top-1, with † when its calibration credited adversarial controls."""
    value = row.get(f"{judge}_top1")
    return "n/a" if value is None else f"{_pct(value)}{'†' if row.get(f'{judge}_credits_adversarial') else ''}"


def _start_control(row: Mapping[str, Any]) -> str:
    """The judges' verdict on an attack's starting images (face recogniser top-1 / SSIM), if it has any."""
    if row.get("start.ssim_mean") is None:
        return "-"
    top1 = row.get("start.face_recognizer_top1")
    return f"{'n/a' if top1 is None else _pct(top1)} / {_num(row['start.ssim_mean'])}"


def face_section(summary: Summary, rows: Sequence[Mapping[str, Any]]) -> list[Block]:
    table = [
        (
            _title(r["attack"]),
            r["model"],
            r["defence"],
            _judge_mark(r, "face_recognizer"),
            _pct(r.get("face_recognizer_verified")),
            _pct(r.get("face_recognizer_faces_detected")),
            _pct(r.get("face_recognizer_lineup")),
            _judge_mark(r, "evaluation_network"),
            _judge_mark(r, "pixel_evaluator"),
            _num(r.get("ssim_mean")),
            _start_control(r),
            str(r.get("trials") or "-"),
        )
        for r in rows
        if r["family"] == "face" and r["defence"] in ("none", "round-0.01", "label-only")
    ]
    notes = sorted({r["success_note"] for r in rows if r["family"] == "face" and r.get("success_note")})
    return [
        Heading("Faces: the judges side by side"),
        Paragraph(
            "Success is the face recogniser's top-1: dlib's ResNet face descriptor, pretrained on other people's "
            "photos (it never saw these 40), names the person whose reference photo is nearest to the "
            "reconstruction; verified means within dlib's same-person distance 0.6 of the right person; "
            "faces detected is the share in which its face detector finds a face at all; lineup is the automated "
            "five-face lineup of the 2015 study (20% for always answering 'absent'). Beside it: the evaluation "
            "network (a CNN trained with augmentation on the private photos, the literature's evaluation model), "
            "the pixel evaluator (RBF-SVM on PCA of pixels, this project's earlier yardstick) and SSIM to the "
            "person's photos. † marks a judge whose calibration rated adversarial control images (pixel-model "
            "PGD from noise, no face prior) above chance: its figures partly measure model-fooling. Rows: "
            "undefended, r = 0.01 and label-only; every cell is in the table below and in results.csv."
        ),
        Paragraph(
            "Why the judges differ: the targets and the pixel evaluator both draw linear or kernel boundaries "
            "in pixel space, so an image that moves a target's confidence towards person k also moves the pixel "
            "evaluator's, whether or not it shows a face (black-box descents end on such textures; PGD from "
            "noise reaches 100% with the pixel evaluator and chance with the face recogniser). The evaluation "
            "network is trained on the same photos and is partly fooled too. The face recogniser was trained on "
            "other people to map faces of one person together; textures that carry a class direction in "
            "pixel space do not move its descriptor towards the person, and its detector does not see a face in "
            "them. Where the judges agree, a person would recognise someone; where only the pixel judges "
            "succeed, read the grid: it shows patterns, not people."
        ),
        *([Paragraph("Not judged by the face recogniser here: " + "; ".join(notes))] if notes else []),
        Table(
            (
                "attack",
                "model",
                "defence",
                "face rec. top-1 %",
                "verified %",
                "face found %",
                "lineup %",
                "eval. net top-1 %",
                "pixel top-1 %",
                "SSIM",
                "start: face rec. % / SSIM",
                "judged",
            ),
            tuple(table),
        ),
    ]


def comparison_section(summary: Summary) -> list[Block]:
    comparisons = summary["comparisons"]
    by_verdict: dict[str, list[str]] = {}
    for c in comparisons:
        by_verdict.setdefault(c["verdict"], []).append(f"{c['claim']} (ours: {c['ours']})")
    return [
        Heading("Where we agree with the study, and where we don't"),
        *(
            block
            for verdict in ("agree", "disagree", "no data")
            if verdict in by_verdict
            for block in (
                Paragraph(f"We {verdict}:" if verdict != "no data" else "No data yet:"),
                Bullets(tuple(by_verdict[verdict])),
            )
        ),
        Table(
            ("claim", "the study", "ours", "verdict", "rule"),
            tuple((c["claim"], c["source"], c["ours"], c["verdict"], c["rule"]) for c in comparisons),
        ),
    ]


def _descent(row: Mapping[str, Any]) -> str:
    if not row.get("stops"):
        return ""
    median = row.get("median_confidence")
    return f"{row['stops']} ({'-' if median is None else f'{median:.2g}'})"


def cells_section(rows: Sequence[Mapping[str, Any]]) -> list[Block]:
    table = []
    for r in rows:
        cost = utility_cost(r)
        sent, received = r.get("bytes_sent") or 0, r.get("bytes_received") or 0
        table.append(
            (
                r["attack"],
                r["model"],
                r["defence"],
                _num(r.get("success")),
                _num(r.get("chance")),
                "yes" if r.get("works") else "no",
                _num(r.get("p_value"), 3),
                *(
                    (_judge_mark(r, "evaluation_network"), _judge_mark(r, "pixel_evaluator"), _num(r.get("ssim_mean")))
                    if r["family"] == "face"
                    else ("", "", "")
                ),
                str(r.get("queries") if r.get("queries") is not None else "-"),
                str(r.get("rows") if r.get("rows") is not None else "-"),
                f"{(sent + received) / 1e6:.1f}",
                _num(r.get("seconds"), 1),
                _num(r.get("utility.accuracy")),
                "-" if cost["brier"] is None else f"{cost['brier']:+.4f}",
                _descent(r),
                r.get("reused_from") or r.get("status") or "",
            )
        )
    return [
        Heading("Every cell"),
        Paragraph(
            "Success: the face recogniser's top-1 for faces (beside it the other judges; † as above), precision "
            "of 'yes' for trees. Cost from the attack client's QueryStats (HTTP requests, rows, MB both ways, HTTP "
            "seconds); utility "
            "on the model's held-out rows under the cell's defence. MI-Face stops: how each label's descent ended "
            "(gamma: confidence reached, beta: no progress in the window, alpha: out of iterations) and the median "
            "confidence reached. A note naming a cell means a result reused from it (white-box or labels-only; see "
            "method)."
        ),
        Table(
            (
                "attack",
                "model",
                "defence",
                "success",
                "chance",
                "works",
                "p",
                "eval. net %",
                "pixel %",
                "SSIM",
                "requests",
                "rows",
                "MB",
                "s",
                "utility acc",
                "Brier +",
                "MI-Face stops (median f)",
                "note",
            ),
            tuple(table),
        ),
    ]


def method_section(summary: Summary) -> list[Block]:
    settings = summary["settings"]
    options = "; ".join(f"{k}: {' '.join(v)}" for k, v in settings["options"].items()) or "documented defaults"
    narrowed = "; ".join(f"{k} on {', '.join(v)}" for k, v in (settings.get("attack_models") or {}).items())
    return [
        Heading("Method and caveats"),
        Bullets(
            (
                f"Profile {summary['profile']}: identities {settings['identities'] or 'all'}, tree targets "
                f"{settings['tree_sample'] or 'all'} per set, per-attack options: {options}."
                + (f" Face models narrowed per attack: {narrowed}." if narrowed else ""),
                "Each cell runs under its own user whose per-user defence is the cell's defence, so cells run in "
                "parallel on one server without interfering; the attacks use only the HTTP API.",
                "White-box attacks make no prediction query. Under each defence the cell downloads the model as "
                "its own user; when the download's SHA-256 equals the undefended cell's, the (deterministic) attack "
                "result is reused instead of recomputed, and the check is stored in the cell.",
                "Labels-only attacks read nothing of an answer but its label. Rounding, top-k and label-only "
                "answers never move the label the service reports (the clean row's argmax), so under them every "
                "query gets the undefended answer and the seeded attack would repeat its undefended cell: that "
                "result is reused once the cell's utility check shows no held-out label moved. Under noise the "
                "attack runs.",
                "Noise is the service's default: fresh for every answer (not keyed to the input).",
                f"Small samples: with n judged identities top-1 moves in steps of 1/n, and the binomial test at "
                f"{ALPHA:g} needs several hits before it calls an attack working.",
                "Every judge is calibrated on control images (real held-out photos, blank, uniform noise, the "
                "mean face of the other people, pixel-model PGD from noise); each cell's results.json carries "
                "the judges' ceilings and control verdicts. A judge that credits the adversarial controls is "
                "marked † and never decides success. Read the numbers with the grids.",
                f"Study numbers: {TABLE_NOTE}. Quoted sentences are the paper's own.",
            )
        ),
    ]


def figures_section(figures: Sequence[Path]) -> list[Block]:
    captions = {
        "success-vs-rounding.png": "Attack success vs rounding level, per attack and model",
        "frontier.png": "Privacy-utility frontier over all output defences (Brier cost)",
        "frontier-accuracy.png": "Privacy-utility frontier, training and output defences (held-out accuracy, ε)",
    }
    return [Heading("Figures")] + [
        Figure(path, captions.get(path.name, f"Reconstructions, one row per defence: {path.stem}")) for path in figures
    ]


def write_reports(summary: Summary, figures: Sequence[Path], out: Path) -> tuple[Path, Path]:
    """``out/report.md`` and ``out/report.html`` from the run's summary and figures."""
    rows = summary["cells"]
    blocks = [
        *overview(summary),
        *rounding_section(summary, rows),
        *tree_section(summary, rows),
        *attriguard_section(summary, out),
        *split_section(summary, out),
        *tree_defense_section(summary, rows),
        *frontier_section(summary, rows),
        *face_section(summary, rows),
        *comparison_section(summary),
        *figures_section(figures),
        *cells_section(rows),
        *method_section(summary),
    ]
    md, page = out / "report.md", out / "report.html"
    md.write_text(markdown(blocks, out))
    page.write_text(html_page(f"Model-inversion evaluation ({summary['profile']})", blocks))
    return md, page
