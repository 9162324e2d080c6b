"""Real architectures for the audit's tests and benchmark, built from their code with their own
initialization (nothing downloaded): Hugging Face GPT-2, BERT and Llama from small configs, and,
written here, a nanoGPT-style model, a ResNet-style CNN with BatchNorm, a U-Net-style CNN with
ConvTranspose, an LSTM classifier and an ``nn.TransformerEncoder``. Each entry of `ZOO` builds
``(model, batch)``; `BUGS` plants the classic mistakes."""

from __future__ import annotations

import math
import os

import torch
import torch.nn.functional as F
from torch import nn

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

VOCAB = 100


def tokens(batch: int = 2, seq: int = 32, vocab: int = VOCAB, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, vocab, (batch, seq), generator=torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------------------- Hugging Face
def gpt2(n_layer: int = 2, n_embd: int = 64, seed: int = 0):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    cfg = GPT2Config(
        n_embd=n_embd, n_layer=n_layer, n_head=4, vocab_size=VOCAB, n_positions=64, bos_token_id=0, eos_token_id=0
    )
    return GPT2LMHeadModel(cfg), tokens()


def bert(n_layer: int = 2, hidden: int = 64, seed: int = 0, seq: int = 32, batch: int = 2, vocab: int = VOCAB):
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    cfg = BertConfig(
        hidden_size=hidden,
        num_hidden_layers=n_layer,
        num_attention_heads=max(1, hidden // 64) if hidden >= 256 else 4,
        intermediate_size=4 * hidden,
        vocab_size=vocab,
        max_position_embeddings=max(64, seq),
    )
    return BertModel(cfg), tokens(batch, seq, vocab)


def llama(n_layer: int = 2, hidden: int = 64, seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        hidden_size=hidden,
        num_hidden_layers=n_layer,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=2 * hidden,
        vocab_size=VOCAB,
        max_position_embeddings=64,
        bos_token_id=0,
        eos_token_id=0,
    )
    return LlamaForCausalLM(cfg), tokens()


# ----------------------------------------------------------------------------- nanoGPT-style
class LayerNorm(nn.Module):
    """nanoGPT's own LayerNorm (optional bias), calling F.layer_norm."""

    def __init__(self, n: int, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.bias = nn.Parameter(torch.zeros(n)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd: int, n_head: int, dropout: float, scale: float | None = None) -> None:
        super().__init__()
        self.scale = scale  # None: scaled-dot-product attention's 1/sqrt(d_head)
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)
        self.n_head = n_head
        self.dropout = dropout
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        p = self.dropout if self.training else 0
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True, scale=self.scale)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, n_embd: int, dropout: float) -> None:
        super().__init__()
        self.c_fc = nn.Linear(n_embd, 4 * n_embd)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * n_embd, n_embd)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, n_embd: int, n_head: int, dropout: float) -> None:
        super().__init__()
        self.ln_1 = LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout)
        self.ln_2 = LayerNorm(n_embd)
        self.mlp = MLP(n_embd, dropout)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class NanoGPT(nn.Module):
    """Karpathy's nanoGPT model.py, shortened: its init is N(0, 0.02) everywhere, biases zero,
    and every c_proj N(0, 0.02/sqrt(2 n_layer)); lm_head tied to wte."""

    def __init__(self, n_layer: int = 2, n_embd: int = 64, n_head: int = 4, block: int = 64, dropout: float = 0.1):
        super().__init__()
        self.wte = nn.Embedding(VOCAB, n_embd)
        self.wpe = nn.Embedding(block, n_embd)
        self.drop = nn.Dropout(dropout)
        self.h = nn.ModuleList([Block(n_embd, n_head, dropout) for _ in range(n_layer)])
        self.ln_f = LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, VOCAB, bias=False)
        self.wte.weight = self.lm_head.weight
        self.apply(self._init_weights)
        for pn, p in self.named_parameters():
            if pn.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx):
        pos = torch.arange(idx.shape[1], device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(pos))
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


def nanogpt(n_layer: int = 2, seed: int = 0):
    torch.manual_seed(seed)
    return NanoGPT(n_layer), tokens()


# ----------------------------------------------------------------------------- CNNs
class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)  # shared by both call sites, as torchvision's
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = (
            nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
            if stride != 1 or c_in != c_out
            else None
        )

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """torchvision's ResNet, shortened (its init: kaiming_normal_(mode='fan_out') convs, BN 1/0)."""

    def __init__(self, width: int = 16, blocks=(2, 2), classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        layers, c = [], width
        for stage, n in enumerate(blocks):
            for b in range(n):
                layers.append(BasicBlock(c, width * 2**stage, 2 if stage and b == 0 else 1))
                c = width * 2**stage
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(c, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.layers(self.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def resnet(seed: int = 0):
    torch.manual_seed(seed)
    return ResNet(), torch.randn(16, 3, 16, 16, generator=torch.Generator().manual_seed(seed))


class UNet(nn.Module):
    """Ronneberger et al. 2015, two levels: conv-ReLU pairs, max-pool down, ConvTranspose2d(k=2,
    s=2) up, skips concatenated; He's N(0, 2/N) with N the inputs of one unit (the paper's
    init): for the up-convolution N = in_channels (kernel 2, stride 2: one tap per output pixel),
    and std sqrt(1/N) there since no ReLU follows."""

    def __init__(self, c: int = 8, classes: int = 2) -> None:
        super().__init__()

        def pair(i, o):
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.ReLU(), nn.Conv2d(o, o, 3, padding=1), nn.ReLU())

        self.down1, self.down2 = pair(3, c), pair(c, 2 * c)
        self.bottom = pair(2 * c, 4 * c)
        self.up2, self.dec2 = nn.ConvTranspose2d(4 * c, 2 * c, 2, stride=2), pair(4 * c, 2 * c)
        self.up1, self.dec1 = nn.ConvTranspose2d(2 * c, c, 2, stride=2), pair(2 * c, c)
        self.head = nn.Conv2d(c, classes, 1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.ConvTranspose2d):
                nn.init.normal_(m.weight, std=1 / math.sqrt(m.in_channels))
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.head.weight, std=1 / math.sqrt(c))

    def forward(self, x):
        d1 = self.down1(x)
        d2 = self.down2(F.max_pool2d(d1, 2))
        b = self.bottom(F.max_pool2d(d2, 2))
        u2 = self.dec2(torch.cat([self.up2(b), d2], 1))
        u1 = self.dec1(torch.cat([self.up1(u2), d1], 1))
        return self.head(u1)


def unet(seed: int = 0):
    torch.manual_seed(seed)
    return UNet(), torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


class GroupNormBlock(nn.Module):
    """A diffusion-style residual block's branch (GroupNorm, SiLU, conv, twice); the residual add
    is the caller's: ``x + block(x)``."""

    def __init__(self, c: int, groups: int = 4) -> None:
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(groups, c), nn.Conv2d(c, c, 3, padding=1)
        self.norm2, self.conv2 = nn.GroupNorm(groups, c), nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return self.conv2(F.silu(self.norm2(self.conv1(F.silu(self.norm1(x))))))


class GroupNormResNet(nn.Module):
    """A GroupNorm CNN whose residual adds are written in its own forward (``x = x + block(x)``,
    as diffusion U-Nets and many research codes do), and whose stages change width through a
    projection shortcut (a 1x1 conv on the skip path); PyTorch's default init."""

    def __init__(self, c: int = 16, blocks: int = 2, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, c, 3, padding=1)
        self.stage1 = nn.ModuleList([GroupNormBlock(c) for _ in range(blocks)])
        self.widen = nn.Sequential(nn.GroupNorm(4, c), nn.SiLU(), nn.Conv2d(c, 2 * c, 3, stride=2, padding=1))
        self.skip = nn.Conv2d(c, 2 * c, 1, stride=2)  # the projection shortcut
        self.stage2 = nn.ModuleList([GroupNormBlock(2 * c) for _ in range(blocks)])
        self.head = nn.Linear(2 * c, classes)

    def forward(self, x):
        x = self.stem(x)
        for block in self.stage1:
            x = x + block(x)
        x = self.skip(x) + self.widen(x)
        for block in self.stage2:
            x = x + block(x)
        return self.head(x.mean((2, 3)))


def gn_resnet(seed: int = 0):
    torch.manual_seed(seed)
    return GroupNormResNet(), torch.randn(8, 3, 16, 16, generator=torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------------------- sequences
class LSTMClassifier(nn.Module):
    """Embedding -> 2-layer LSTM -> the last hidden state -> Linear; PyTorch's default init."""

    def __init__(self, hidden: int = 64, classes: int = 5) -> None:
        super().__init__()
        self.emb = nn.Embedding(VOCAB, 32)
        self.lstm = nn.LSTM(32, hidden, num_layers=2, batch_first=True, dropout=0.1)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, idx):
        out, _ = self.lstm(self.emb(idx))
        return self.fc(out[:, -1])


def lstm(seed: int = 0):
    torch.manual_seed(seed)
    return LSTMClassifier(), tokens(8, 16)


class GRUClassifier(nn.Module):
    """Embedding -> 1-layer GRU -> the last hidden state -> Linear; PyTorch's default init."""

    def __init__(self, hidden: int = 32, classes: int = 5) -> None:
        super().__init__()
        self.emb = nn.Embedding(VOCAB, 16)
        self.gru = nn.GRU(16, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, idx):
        out, _ = self.gru(self.emb(idx))
        return self.fc(out[:, -1])


def gru(seed: int = 0):
    torch.manual_seed(seed)
    return GRUClassifier(), tokens(8, 16)


@torch.no_grad()
def same_heads(model: nn.Module, block: int = 0, a: int = 0, b: int = 1) -> nn.Module:
    """Bug: attention head ``b`` of block ``block`` a copy of head ``a`` (its q, k, v rows with
    their biases and its output-projection columns), in GPT-2 (packed Conv1D), BERT or Llama."""
    cfg = model.config
    d = cfg.hidden_size // cfg.num_attention_heads
    A, B = slice(a * d, (a + 1) * d), slice(b * d, (b + 1) * d)
    if cfg.model_type == "gpt2":
        attn = model.transformer.h[block].attn
        W, bias = attn.c_attn.weight, attn.c_attn.bias  # (in, 3 * hidden): columns are units
        for j in range(3):
            off = j * cfg.hidden_size
            W[:, off + b * d : off + (b + 1) * d] = W[:, off + a * d : off + (a + 1) * d]
            bias[off + b * d : off + (b + 1) * d] = bias[off + a * d : off + (a + 1) * d]
        attn.c_proj.weight[B] = attn.c_proj.weight[A]  # Conv1D (in, out): rows are the heads' inputs
        return model
    if cfg.model_type == "bert":
        att = model.encoder.layer[block].attention
        qkv, o = (att.self.query, att.self.key, att.self.value), att.output.dense
    else:  # llama: grouped-query attention, heads a and b share a key/value head when a, b = 0, 1
        att = model.model.layers[block].self_attn
        qkv, o = (att.q_proj,), att.o_proj
    for lin in qkv:
        lin.weight[B] = lin.weight[A]
        if lin.bias is not None:
            lin.bias[B] = lin.bias[A]
    o.weight[:, B] = o.weight[:, A]
    return model


class EncoderClassifier(nn.Module):
    """Embedding -> nn.TransformerEncoder (post-LN, GELU given as a function: F.gelu) -> mean
    -> Linear; PyTorch's default init (MultiheadAttention's xavier_uniform in_proj)."""

    def __init__(self, d: int = 64, n_layer: int = 2, classes: int = 5, norm_first: bool = False) -> None:
        super().__init__()
        self.emb = nn.Embedding(VOCAB, d)
        layer = nn.TransformerEncoderLayer(
            d, 4, 2 * d, dropout=0.1, activation=F.gelu, batch_first=True, norm_first=norm_first
        )
        self.encoder = nn.TransformerEncoder(layer, n_layer, enable_nested_tensor=False)
        self.fc = nn.Linear(d, classes)

    def forward(self, idx):
        return self.fc(self.encoder(self.emb(idx)).mean(1))


def encoder(seed: int = 0, norm_first: bool = False):
    torch.manual_seed(seed)
    return EncoderClassifier(norm_first=norm_first), tokens()


def bert_classifier(seed: int = 0):
    """BertForSequenceClassification: a tanh pooler and a classifier head after the encoder, both
    at the 0.02 convention (a new-user trial: 'init too small, initialize with lecun_normal')."""
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    cfg = BertConfig(
        hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=256, vocab_size=VOCAB
    )
    return BertForSequenceClassification(cfg), tokens()


def distilbert_classifier(seed: int = 0):
    """DistilBertForSequenceClassification: a ReLU pre_classifier at the 0.02 convention."""
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    torch.manual_seed(seed)
    cfg = DistilBertConfig(dim=64, n_layers=2, n_heads=4, hidden_dim=256, vocab_size=VOCAB)
    return DistilBertForSequenceClassification(cfg), tokens()


def opt(seed: int = 0):
    """OPTForCausalLM: its MLP residual add runs on reshaped tensors (the search misses it), so
    fc1 is read as a plain chain."""
    from transformers import OPTConfig, OPTForCausalLM

    torch.manual_seed(seed)
    cfg = OPTConfig(
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        ffn_dim=256,
        vocab_size=VOCAB,
        word_embed_proj_dim=64,
        max_position_embeddings=64,
    )
    return OPTForCausalLM(cfg), tokens()


#: Published inits only (no planted-bug test): the heads and layouts a new user met first.
PUBLISHED_ONLY = {"bert_classifier": bert_classifier, "distilbert_classifier": distilbert_classifier, "opt": opt}

ZOO = {
    "gpt2": gpt2,
    "bert": bert,
    "llama": llama,
    "nanogpt": nanogpt,
    "resnet": resnet,
    "unet": unet,
    "lstm": lstm,
    "encoder": encoder,
    "gn_resnet": gn_resnet,
}


# ----------------------------------------------------------------------------- planted bugs
def linear_like(model: nn.Module):
    """Every linear map's weight: nn.Linear's, HF Conv1D's, MultiheadAttention's in_proj."""
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear) or type(m).__name__ == "Conv1D":
            yield name, m.weight
        if isinstance(m, nn.MultiheadAttention) and m.in_proj_weight is not None:
            yield name + ".in_proj_weight", m.in_proj_weight


ATTENTION = (
    r"(c_attn|attn\.c_proj|q_proj|k_proj|v_proj|o_proj|query|key|value|attention\.output\.dense"
    r"|in_proj_weight|out_proj)$"
)


@torch.no_grad()
def all_linear_normal(model: nn.Module) -> nn.Module:
    """Bug: every linear map N(0, 1) (torch.randn's scale, no 1/sqrt(fan_in))."""
    for _, w in linear_like(model):
        w.normal_(0.0, 1.0)
    return model


@torch.no_grad()
def attention_zeroed(model: nn.Module) -> nn.Module:
    """Bug: every attention matrix (q, k, v, output) zero, with its bias."""
    import re

    for name, m in model.named_modules():
        for pname, p in m.named_parameters(recurse=False):
            if re.search(ATTENTION, name if pname in ("weight", "bias") else f"{name}.{pname}") or re.search(
                r"(in_proj_weight|in_proj_bias)$", pname
            ):
                p.zero_()
    return model


@torch.no_grad()
def bn_bias(model: nn.Module, value: float = -5.0) -> nn.Module:
    """Bug: every BatchNorm's bias (beta) at -5."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.bias.fill_(value)
    return model


@torch.no_grad()
def lstm_constant(model: nn.Module, value: float = 0.1) -> nn.Module:
    """Bug: every LSTM weight one constant."""
    for m in model.modules():
        if isinstance(m, nn.LSTM):
            for p in m.parameters():
                p.fill_(value)
    return model


def gpt2_unscaled(n_layer: int = 24, seed: int = 0):
    """Bug: GPT-2 at 24 layers with its residual scaling removed (c_proj N(0, 0.02) like the rest)."""
    model, x = gpt2(n_layer, seed=seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("c_proj.weight"):
                p.normal_(0.0, model.config.initializer_range)
    return model, x
