#!/usr/bin/python3
"""The shared crop-and-restore benchmark per config, with a clone metric, for G'MIC and the project.

Runs the shared benchmark's cases (../shared/bench/outpaint_bench.py: frame, case, metrics, m_gmic) and adds:
  clones   % of the new region's blocks that closely copy one of the original's most salient blocks
           (computed from the output picture alone, so it applies to every method and to the ground truth)
  per-config tables, and which metrics the project wins against G'MIC in each config.
The project runs in one Node process (dist/bench/expand-batch.js: engine seconds, no start-up) or, with
--project-mode cli, through `node dist/src/cli/main.js expand` once per case (wall seconds, start-up included);
with --no-gmic-cache as well, case by case the project and then G'MIC, so both see the same moments of a
shared machine.

Usage: /usr/bin/python3 bench/quality-configs.py [--out DIR] [--configs wide,ring] [--limit N]
         [--methods gt,gmic,project] [--project-mode batch|cli] [--gmic-cache DIR | --no-gmic-cache] [--seed S]
Needs: apt-get install -y gmic python3-opencv python3-skimage; photos from ../shared/bench/get-images.sh;
npm run build. OUTPAINT_ENGINE_OVERRIDES (JSON) reaches the batch runner, for sweeps.
"""
import argparse, importlib.util, json, os, subprocess, sys, tempfile, time
import numpy as np
import cv2

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
METRICS = ["ssim_lo", "hf", "seam_dev", "color", "grad"]
HIGHER_BETTER = {"ssim_lo"}


def load_shared(path):
    spec = importlib.util.spec_from_file_location("outpaint_bench", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def clone_metric(img, rect, block=8, top=0.03, max_blocks=48, closeness=0.05, noise=10.0, shift_share=0.5):
    """Copies of the original's salient blocks in the new region, as % of the new region's blocks.

    At half scale in Lab: a block's saliency is how far its mean colour lies from its surroundings' (the
    3×-wider window without the block: contrast to surroundings, not gradient energy); the top `top` of the
    original's blocks (non-overlapping, at most `max_blocks`) are the salient ones. A position whose block lies
    wholly in the new region is a copy of salient block T when its mean-free squared difference to T is below
    `closeness` × (T's own variance + `noise`), a near-exact copy of the structure (patch methods make
    those, a natural look-alike rarely is one), and its mean colour lies within `shift_share` of T's contrast
    to its surroundings (so it stands out as T does, even under a smooth colour drift). Copies of one T are
    counted without overlap.
    """
    x0, y0, w, h = rect
    half = cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(half, cv2.COLOR_BGR2LAB).astype(np.float32)
    H, W = lab.shape[:2]
    ox0, oy0, ox1, oy1 = -(-x0 // 2), -(-y0 // 2), (x0 + w) // 2, (y0 + h) // 2
    b = block
    # Means of the block at each top-left position and of its 3b window (centred), surround = window − block.
    mc = cv2.boxFilter(lab, -1, (b, b), anchor=(0, 0), normalize=True, borderType=cv2.BORDER_REFLECT)
    ms = cv2.boxFilter(lab, -1, (3 * b, 3 * b), anchor=(b, b), normalize=True, borderType=cv2.BORDER_REFLECT)
    surround = (ms * 9 - mc) / 8
    sal = np.linalg.norm(mc - surround, axis=2)
    # Candidates: blocks (and their surroundings) inside the original, on a half-block grid.
    cands = []
    for y in range(oy0 + b, oy1 - 2 * b + 1, b // 2):
        for x in range(ox0 + b, ox1 - 2 * b + 1, b // 2):
            cands.append((sal[y, x], x, y))
    if not cands:
        return 0.0, 0
    cands.sort(reverse=True)
    keep = max(1, int(len(cands) * top))
    salient = []
    for s, x, y in cands[:keep * 4]:
        if len(salient) >= min(keep, max_blocks):
            break
        if all(abs(x - a) >= b or abs(y - c) >= b for _, a, c in salient):
            salient.append((s, x, y))
    # Positions whose block lies wholly in the new region.
    gen = np.ones((H, W), np.uint8)
    gen[oy0:oy1, ox0:ox1] = 0
    inside = cv2.erode(gen, np.ones((b, b), np.uint8), anchor=(0, 0), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    valid = inside[:H - b + 1, :W - b + 1].astype(bool)
    new_blocks = max(1, gen.sum() / (b * b))
    copies = 0
    for s, x, y in salient:
        t = lab[y:y + b, x:x + b]
        variance = float(((t - t.reshape(-1, 3).mean(0)) ** 2).mean())
        d = cv2.matchTemplate(lab, t, cv2.TM_SQDIFF) / (b * b * 3)
        shift = np.linalg.norm(mc[:H - b + 1, :W - b + 1] - mc[y, x], axis=2)
        d -= shift * shift / 3  # the mean-free difference: a copy under a smooth colour drift is still a copy
        hit = (d < closeness * (variance + noise)) & (shift < shift_share * s) & valid
        ys, xs = np.nonzero(hit)
        blocked = np.zeros(d.shape, bool)
        for i in np.argsort(d[ys, xs]):
            px, py = xs[i], ys[i]
            if not blocked[py, px]:
                copies += 1
                blocked[max(0, py - b + 1):py + b, max(0, px - b + 1):px + b] = True
    return 100.0 * copies / new_blocks, len(salient)


def run_project_batch(cases, seed, work):
    jobs = []
    for k, (name, cname, src, rect, gt, cfg) in enumerate(cases):
        inp = os.path.join(work, f"in{k}.png")
        cv2.imwrite(inp, src)
        u, d, l, r = cfg
        jobs.append(dict(input=inp, output=os.path.join(work, f"out{k}.png"), up=u, down=d, left=l, right=r, seed=seed))
    with open(os.path.join(work, "jobs.json"), "w") as f:
        json.dump(jobs, f)
    p = subprocess.run(["node", os.path.join(ROOT, "dist/bench/expand-batch.js"), os.path.join(work, "jobs.json")],
                       capture_output=True, text=True, check=True)
    times = [json.loads(line)["engineSeconds"] for line in p.stdout.splitlines() if line.startswith("{")]
    return [(cv2.imread(j["output"], cv2.IMREAD_COLOR), t) for j, t in zip(jobs, times)]


def run_project_cli(src, cfg, seed, work):
    inp, outp = os.path.join(work, "cli-in.png"), os.path.join(work, "cli-out.png")
    cv2.imwrite(inp, src)
    u, d, l, r = cfg
    t0 = time.perf_counter()
    subprocess.run(["node", os.path.join(ROOT, "dist/src/cli/main.js"), "expand", inp, "--up", str(u), "--down", str(d),
                    "--left", str(l), "--right", str(r), "--seed", str(seed), "--output", outp], check=True, capture_output=True)
    return cv2.imread(outp, cv2.IMREAD_COLOR), time.perf_counter() - t0


def run_gmic(ob, case, seed, cache):
    """G'MIC on one case, timed (wall seconds, start-up included); the output is kept in the cache."""
    name, cname, src, rect, gt, cfg = case
    t0 = time.perf_counter()
    out = ob.m_gmic(src, rect, gt.shape, seed)
    dt = time.perf_counter() - t0
    cached = os.path.join(cache, f"{os.path.splitext(name)[0]}_{cname}_s{seed}.png")
    os.makedirs(cache, exist_ok=True)
    cv2.imwrite(cached, out)
    json.dump({"seconds": dt}, open(cached + ".json", "w"))
    return out, dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", default=os.environ.get("OUTPAINT_BENCH_SCRIPT", os.path.join(ROOT, "../shared/bench/outpaint_bench.py")))
    ap.add_argument("--images", default=os.environ.get("OUTPAINT_BENCH_IMAGES", os.path.expanduser("~/.cache/outpaint-bench/images")))
    ap.add_argument("--out", default=os.path.join(ROOT, ".bench-out/quality-configs"))
    ap.add_argument("--configs", default="wide,tall,ring,corner,sky")
    ap.add_argument("--methods", default="gt,gmic,project")
    ap.add_argument("--project-mode", choices=["batch", "cli"], default="batch")
    ap.add_argument("--project-from", help="score the project outputs an earlier run saved in DIR/project instead of running it")
    ap.add_argument("--gmic-cache", default=os.path.expanduser("~/.cache/outpaint-bench/gmic"))
    ap.add_argument("--no-gmic-cache", action="store_true", help="run G'MIC every time (for timing in the same run)")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if not os.path.isfile(a.bench):
        sys.exit(f"quality-configs: no shared benchmark at {a.bench} (../shared/bench/outpaint_bench.py)")
    if not os.path.isdir(a.images):
        sys.exit(f"quality-configs: no photos in {a.images}: run ../shared/bench/get-images.sh")
    ob = load_shared(a.bench)
    os.makedirs(a.out, exist_ok=True)
    methods = a.methods.split(",")
    names = sorted(f for f in os.listdir(a.images) if f.lower().endswith((".jpg", ".jpeg", ".png")))
    if a.limit:
        names = names[:a.limit]
    cases = []
    for name in names:
        full = cv2.imread(os.path.join(a.images, name), cv2.IMREAD_COLOR)
        for cname in a.configs.split(","):
            cfg = ob.CONFIGS[cname]
            gt = ob.frame(full, cfg)
            src, rect = ob.case(gt, cfg)
            cases.append((name, cname, src, rect, gt, cfg))

    outputs = {m: [None] * len(cases) for m in methods}
    with tempfile.TemporaryDirectory() as work:
        if "project" in methods:
            if a.project_from:
                saved = os.path.join(a.project_from, "project")
                secs = json.load(open(os.path.join(saved, "seconds.json")))
                outputs["project"] = [(cv2.imread(os.path.join(saved, f"{os.path.splitext(c[0])[0]}_{c[1]}.png"), cv2.IMREAD_COLOR), t)
                                      for c, t in zip(cases, secs)]
            elif a.project_mode == "batch":
                outputs["project"] = run_project_batch(cases, a.seed, work)
            elif "gmic" in methods and a.no_gmic_cache:
                # Case by case, the project then G'MIC: both see the same moment of a shared, noisy machine.
                for k, c in enumerate(cases):
                    outputs["project"][k] = run_project_cli(c[2], c[5], a.seed, work)
                    outputs["gmic"][k] = run_gmic(ob, c, a.seed, a.gmic_cache)
            else:
                outputs["project"] = [run_project_cli(c[2], c[5], a.seed, work) for c in cases]
            saved = os.path.join(a.out, "project")
            os.makedirs(saved, exist_ok=True)
            for c, (out, _) in zip(cases, outputs["project"]):
                cv2.imwrite(os.path.join(saved, f"{os.path.splitext(c[0])[0]}_{c[1]}.png"), out)
            json.dump([t for _, t in outputs["project"]], open(os.path.join(saved, "seconds.json"), "w"))
        for k, (name, cname, src, rect, gt, cfg) in enumerate(cases):
            if "gt" in methods:
                outputs["gt"][k] = (gt, 0.0)
            if "gmic" in methods and outputs["gmic"][k] is None:
                cached = os.path.join(a.gmic_cache, f"{os.path.splitext(name)[0]}_{cname}_s{a.seed}.png")
                if not a.no_gmic_cache and os.path.exists(cached):
                    outputs["gmic"][k] = (cv2.imread(cached, cv2.IMREAD_COLOR), json.load(open(cached + ".json"))["seconds"])
                else:
                    outputs["gmic"][k] = run_gmic(ob, cases[k], a.seed, a.gmic_cache)

    rows = []
    for k, (name, cname, src, rect, gt, cfg) in enumerate(cases):
        tiles = []
        for m in methods:
            out, secs = outputs[m][k]
            out = ob.align(out, gt, rect)
            r = ob.metrics(out, gt, rect)
            r["clones"], r["salient_blocks"] = clone_metric(out, rect)
            r.update(image=name, config=cname, method=m, seconds=round(secs, 3))
            rows.append(r)
            tiles.append(out)
            print(json.dumps(r), flush=True)
        x0, y0, w, h = rect
        row = []
        for t in tiles:
            t = t.copy()
            cv2.rectangle(t, (x0, y0), (x0 + w - 1, y0 + h - 1), (0, 0, 255), 2)
            row.append(cv2.resize(t, (480, int(480 * gt.shape[0] / gt.shape[1]))))
        cv2.imwrite(os.path.join(a.out, f"{os.path.splitext(name)[0]}_{cname}.jpg"), np.hstack(row), [cv2.IMWRITE_JPEG_QUALITY, 88])
    with open(os.path.join(a.out, "results.jsonl"), "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    summarize(rows, methods, a.configs.split(","))


def summarize(rows, methods, configs):
    keys = METRICS + ["clones", "seconds"]
    print(f"\n{'config':<8} {'method':<8} " + " ".join(f"{k:>8}" for k in keys) + "   n")
    table = {}
    for cname in configs + ["all"]:
        for m in methods:
            rs = [r for r in rows if r["method"] == m and (cname == "all" or r["config"] == cname)]
            if not rs:
                continue
            vals = {k: float(np.median([r[k] for r in rs]) if k == "seconds" else np.mean([r[k] for r in rs])) for k in keys}
            table[cname, m] = vals
            print(f"{cname:<8} {m:<8} " + " ".join(f"{vals[k]:8.3f}" for k in keys) + f" {len(rs):3d}")
    if "gmic" in methods and "project" in methods:
        print("\nproject vs gmic (wins of the 5 metrics; clones; time ratio = median project s / median gmic s)")
        for cname in configs + ["all"]:
            p, g = table[cname, "project"], table[cname, "gmic"]
            wins = [k for k in METRICS if (p[k] > g[k] if k in HIGHER_BETTER else p[k] < g[k])]
            losses = [k for k in METRICS if k not in wins]
            print(f"{cname:<8} wins {len(wins)}/5  loses: {','.join(losses) or '-':<24} clones {p['clones']:.3f} vs {g['clones']:.3f}"
                  f"  time {p['seconds'] / max(g['seconds'], 1e-9):.3f}")


if __name__ == "__main__":
    main()
