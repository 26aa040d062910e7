"""Convert a HuggingFace BERT folder (config.json, vocab.txt, model.safetensors) to Google-BERT format.

    python -m common.convert HF_DIR OUT_DIR

Writes OUT_DIR/bert_config.json, vocab.txt and bert_model.ckpt.* (every tensor of the folder,
heads included, under its Google-BERT name), which `[model] dir` and any Google-BERT tool load.
Tracks read HF folders directly; converting once saves re-reading the safetensors on every run and
gives a checkpoint other bert4keras code can use. OUT_DIR must not exist or be empty; it appears
only when complete.
"""
import json
import os
import shutil

from common import cli, hf


def convert(hf_dir, out_dir):
    """Write the Google-format checkpoint of `hf_dir` into `out_dir`; returns (files written, variables)."""
    vocab = os.path.join(hf_dir, "vocab.txt")
    hf.check_folder(hf_dir, vocab)
    config = hf.bert_config(hf_dir)
    variables = hf.load_variables(hf_dir, config)
    out_dir = os.path.abspath(out_dir)
    if os.path.exists(out_dir) and (not os.path.isdir(out_dir) or os.listdir(out_dir)):
        raise ValueError(f"{out_dir} already exists and is not an empty folder")

    from common import backend, compat
    backend.setup()
    tmp = f"{out_dir}.partial-{os.getpid()}"
    os.makedirs(tmp)
    try:
        with open(os.path.join(tmp, "bert_config.json"), "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2)
            f.write("\n")
        shutil.copyfile(vocab, os.path.join(tmp, "vocab.txt"))
        compat.write_checkpoint(dict(variables), os.path.join(tmp, "bert_model.ckpt"))
        if os.path.isdir(out_dir):
            os.rmdir(out_dir)  # empty, checked above
        os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return sorted(os.path.join(out_dir, name) for name in os.listdir(out_dir)), variables


def main(argv=None):
    parser = cli.parser("common.convert", __doc__, config=False)
    parser.add_argument("hf_dir", help="HuggingFace folder: config.json, vocab.txt, model.safetensors")
    parser.add_argument("out_dir", help="new folder for bert_config.json, vocab.txt, bert_model.ckpt.*")
    args = parser.parse_args(argv)
    files, variables = convert(args.hf_dir, args.out_dir)
    heads = [head for head, prefix in (("pooler", "bert/pooler/"), ("MLM", "cls/predictions/"),
                                       ("NSP", "cls/seq_relationship/"))
             if any(name.startswith(prefix) for name in variables)]
    parameters = sum(int(v.size) for v in variables.values())
    print(f"converted {len(variables)} tensors ({parameters:,} parameters; heads: "
          f"{', '.join(heads) or 'none'}) from {args.hf_dir}")
    for path in files:
        print(f"wrote {path} ({os.path.getsize(path):,} bytes)")


if __name__ == "__main__":
    cli.run(main)
