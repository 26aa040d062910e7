"""Parity check: a HuggingFace BERT folder loaded through common.model against transformers on PyTorch.

1. In a Python with torch and transformers (`pip install -r requirements-bench.txt`, best in its own
   virtualenv), a random `BertForPreTraining` is built, every weight drawn at random (LayerNorm
   scales and biases too), saved with `save_pretrained(..., safe_serialization=True)` with a dummy
   vocab.txt, and run on a fixed batch with padding: last hidden states, MLM logits, NSP logits.
2. Here (the project's Python), the same folder goes through `build_encoder(checkpoint_config(folder),
   with_mlm="linear", with_nsp=True)` and the same batch; this prints the largest absolute
   differences over the non-padding positions as one JSON line.

    python bench/hf_parity.py --torch-python /path/to/venv-bench/bin/python [--size base|tiny] [--hidden-act gelu_new]

The torch side runs in a subprocess so that the two stacks need not share a virtualenv.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = {  # bert-base-chinese's shape, and a small one for a quick run
    "base": dict(vocab_size=21128, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=3072, max_position_embeddings=512),
    "tiny": dict(vocab_size=500, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                 intermediate_size=128, max_position_embeddings=128),
}


def batch(vocab_size, seed=0, rows=4, length=64):
    """Token ids with [CLS]=2 ... [SEP]=3, then padding (id 0) of varying length; two segments."""
    import numpy as np
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, vocab_size, size=(rows, length))
    segments = np.zeros_like(ids)
    for row, used in enumerate(rng.integers(length // 2, length + 1, size=rows)):
        ids[row, 0], ids[row, used - 1] = 2, 3
        ids[row, used:] = 0
        segments[row, used // 2:used] = 1
    return ids, segments


def make_reference(folder, size, seed, hidden_act):
    """Torch side: write the HF folder and reference.npz (inputs and the three outputs)."""
    import numpy as np
    import torch
    from transformers import BertConfig, BertForPreTraining
    torch.manual_seed(seed)
    config = BertConfig(**SIZES[size], hidden_act=hidden_act, layer_norm_eps=1e-12)
    model = BertForPreTraining(config).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "LayerNorm.weight" in name:
                parameter.uniform_(0.5, 1.5)
            elif name.endswith("bias") or "LayerNorm" in name:
                parameter.normal_(0.0, 0.1)
            else:
                parameter.normal_(0.0, 0.05)
    model.save_pretrained(folder, safe_serialization=True)
    with open(os.path.join(folder, "vocab.txt"), "w") as f:
        f.write("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
                          + [f"t{i}" for i in range(config.vocab_size - 5)]) + "\n")
    ids, segments = batch(config.vocab_size, seed)
    with torch.no_grad():
        out = model(input_ids=torch.tensor(ids), token_type_ids=torch.tensor(segments),
                    attention_mask=torch.tensor(ids != 0, dtype=torch.long), output_hidden_states=True)
    np.savez(os.path.join(folder, "reference.npz"), ids=ids, segments=segments,
             hidden=out.hidden_states[-1].numpy(), mlm=out.prediction_logits.numpy(),
             nsp=out.seq_relationship_logits.numpy())


def compare(folder):
    """Project side: load the folder through build_encoder and compare with reference.npz."""
    sys.path.insert(0, ROOT)
    from common import backend
    backend.setup()
    import keras
    import numpy as np
    from common.model import build_encoder, checkpoint_config
    ref = np.load(os.path.join(folder, "reference.npz"))
    bert = build_encoder(checkpoint_config(folder), with_mlm="linear", with_nsp=True)
    last = [layer for layer in bert.layers if layer.name.endswith("-FeedForward-Norm")][-1].output
    model = keras.models.Model(bert.inputs, [last, *bert.outputs])
    hidden, nsp_probs, mlm = model.predict([ref["ids"], ref["segments"]], verbose=0)
    real = ref["ids"] != 0  # outputs at padding positions mean nothing in either model: not compared
    nsp_ref = np.exp(ref["nsp"]) / np.exp(ref["nsp"]).sum(-1, keepdims=True)  # bert4keras's NSP is softmax
    result = {
        "hidden_max_abs_diff": float(np.abs(hidden - ref["hidden"])[real].max()),
        "hidden_max_abs": float(np.abs(ref["hidden"][real]).max()),
        "mlm_logits_max_abs_diff": float(np.abs(mlm - ref["mlm"])[real].max()),
        "mlm_logits_max_abs": float(np.abs(ref["mlm"][real]).max()),
        "nsp_prob_max_abs_diff": float(np.abs(nsp_probs - nsp_ref).max()),
        "mlm_top1_agreement": float((mlm.argmax(-1) == ref["mlm"].argmax(-1))[real].mean()),
        "tokens": int(real.sum()),
    }
    print(json.dumps(result))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--torch-python", default=sys.executable,
                        help="a Python with torch and transformers (default: this one)")
    parser.add_argument("--size", choices=sorted(SIZES), default="base")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden-act", default="gelu", help="HF activation name, e.g. gelu_new")
    parser.add_argument("--make-reference", metavar="FOLDER", help=argparse.SUPPRESS)  # the torch side
    args = parser.parse_args()
    if args.make_reference:
        return make_reference(args.make_reference, args.size, args.seed, args.hidden_act)
    with tempfile.TemporaryDirectory() as tmp:
        folder = os.path.join(tmp, "hf_bert")
        subprocess.run([args.torch_python, os.path.abspath(__file__), "--make-reference", folder,
                        "--size", args.size, "--seed", str(args.seed), "--hidden-act", args.hidden_act],
                       check=True)
        compare(folder)


if __name__ == "__main__":
    main()
