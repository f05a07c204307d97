"""The network: shapes of every variant, ARM's formula, Eq. 6, and what each variant drops."""

from __future__ import annotations

import pytest
import torch
import torchvision

from apr.config import APRConfig, from_params, parse_overrides
from apr.losses import apr_loss
from apr.model import APR, ARM, attribute_scores, imagenet_weights_file, load_backbone

MARKET_CLASSES = [2, 4] + [2] * 25    # 27 attributes, age has 4 classes


def make(variant, classes=MARKET_CLASSES, num_ids=11, backbone="resnet18"):
    torch.manual_seed(0)
    return APR(num_ids, classes, variant, backbone, pretrained="none").eval()


@pytest.mark.parametrize(("variant", "id_in", "feature_dim"), [
    ("apr", 512 + 27, 512 + 27), ("apr_no_arm", 512 + 27, 512 + 27), ("apr_no_attr_loss", 512 + 27, 512 + 27),
    ("ide", 512, 512), ("arn", None, 512),
])
def test_output_shapes(variant, id_in, feature_dim):
    model = make(variant)
    out = model(torch.randn(3, 3, 64, 32))
    assert out.pool5.shape == (3, 512)
    if id_in is None:
        assert out.id_logits is None and model.id_classifier is None
    else:
        assert model.id_classifier.in_features == id_in and out.id_logits.shape == (3, 11)
    if variant == "ide":
        assert out.attr_logits is None and out.embedding is None
    else:
        assert [t.shape[1] for t in out.attr_logits] == MARKET_CLASSES
        assert out.attr_scores.shape == (3, 27)
    assert out.test_feature().shape == (3, feature_dim)
    assert out.test_feature("pool5").shape == (3, 512)


def test_resnet50_gives_the_papers_539_dims():
    model = make("apr", backbone="resnet50", num_ids=751)
    assert model.id_classifier.in_features == 539 and model.attr_heads[0].in_features == 2048
    assert model(torch.randn(2, 3, 64, 32)).test_feature().shape == (2, 539)


def test_arm_equals_formula():
    arm = ARM(3)
    V = torch.tensor([[0.5, -1.0, 0.0], [2.0, 0.1, -0.3], [0.0, 0.0, 1.0]])
    b = torch.tensor([0.1, -0.2, 0.3])
    with torch.no_grad():
        arm.fc.weight.copy_(V)
        arm.fc.bias.copy_(b)
    scores = torch.tensor([[0.9, 0.2, 0.5], [0.1, 0.7, 0.0]])
    weighted, confidence = arm(scores)
    expected_c = torch.sigmoid(scores @ V.T + b)          # c = sigmoid(V ã + b), row-wise
    torch.testing.assert_close(confidence, expected_c)
    torch.testing.assert_close(weighted, expected_c * scores)
    assert ((confidence >= 0) & (confidence <= 1)).all()


def test_attribute_scores_binary_and_ordinal():
    binary = torch.tensor([[0.0, 0.0], [0.0, 10.0]])
    age = torch.log(torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.5, 0.5]]) + 1e-12)
    scores = attribute_scores([binary, age])
    torch.testing.assert_close(scores[:, 0], torch.tensor([0.5, 1.0]), atol=1e-4, rtol=0)
    torch.testing.assert_close(scores[:, 1], torch.tensor([0.0, (2 * 0.5 + 3 * 0.5) / 3]), atol=1e-4, rtol=0)


def test_loss_equals_eq6():
    model = make("apr", classes=[2, 4, 2])
    out = model(torch.randn(4, 3, 64, 32))
    labels = torch.tensor([0, 3, 5, 10])
    attrs = torch.tensor([[0, 1, 1], [1, 3, -1], [1, 0, 0], [-1, 2, 1]])
    parts = apr_loss(out, labels, attrs, "apr", lambda_id=0.7)
    ce = torch.nn.functional.cross_entropy
    id_loss = ce(out.id_logits, labels)
    per_attr = []
    for j, logit in enumerate(out.attr_logits):   # labels -1 ignored
        keep = attrs[:, j] >= 0
        per_attr.append(ce(logit[keep], attrs[keep, j]))
    expected = 0.7 * id_loss + 0.3 * torch.stack(per_attr).mean()
    torch.testing.assert_close(parts.total, expected)
    torch.testing.assert_close(parts.id, id_loss)
    # The other reading of Eq. 6's attribute term: summed, each attribute weighing 1 - λ.
    summed = apr_loss(out, labels, attrs, "apr", lambda_id=0.7, attribute_reduction="sum")
    torch.testing.assert_close(summed.total, 0.7 * id_loss + 0.3 * torch.stack(per_attr).sum())
    torch.testing.assert_close(summed.attr, 3 * parts.attr)
    arn = make("arn", classes=[2, 4, 2])(torch.randn(4, 3, 64, 32))
    for reading in ("mean", "sum"):     # ARN trains Eq. 2's sum whatever the reading
        torch.testing.assert_close(apr_loss(arn, labels, attrs, "arn", 0.9, reading).total,
                                   apr_loss(arn, labels, attrs, "arn", 0.9, "sum").attr)
    with pytest.raises(ValueError, match="attribute_reduction must be mean or sum, got 'max'"):
        apr_loss(out, labels, attrs, "apr", 0.9, "max")


def test_the_attribute_loss_reading_is_a_setting_that_keeps_old_runs_and_shared_starts():
    from apr.config import from_params
    from apr.engine.pretrain import pretrain_config

    printed, summed = from_params("quick"), from_params("quick", attribute_loss_reduction="sum")
    assert printed.attribute_loss_reduction == "mean" and summed.to_dict()["attribute_loss_reduction"] == "sum"
    # (test_a_later_setting_at_its_default_keeps_the_cache_key: the printed reading keeps the runs cached before it)
    # Both readings fine-tune the same pretraining, so that APR's two readings and IDE stay paired by seed.
    assert pretrain_config(summed).key() == pretrain_config(printed).key()
    with pytest.raises(ValueError, match="attribute_loss_reduction='avg': expected mean"):
        from_params("quick", attribute_loss_reduction="avg")


def test_variants_drop_their_parts():
    x = torch.randn(2, 3, 64, 32)
    labels, attrs = torch.tensor([1, 2]), torch.zeros(2, 27, dtype=torch.long)
    for variant, has_id, has_attr in [("ide", True, False), ("arn", False, True), ("apr_no_attr_loss", True, True)]:
        out = make(variant)(x)
        parts = apr_loss(out, labels, attrs, variant, 0.9)
        assert (parts.id is not None) == has_id and (parts.attr is not None) == has_attr
        if variant == "apr_no_attr_loss":   # ID loss alone, not lambda * ID
            torch.testing.assert_close(parts.total, parts.id)
    assert make("apr_no_arm").arm is None and make("apr").arm is not None
    assert make("ide").attr_heads is None and make("arn").id_classifier is None
    # Without ARM the ID classifier sees ã unchanged.
    out = make("apr_no_arm")(x)
    torch.testing.assert_close(out.attr_weighted, out.attr_scores)


def test_attribute_subset_model():
    model = make("apr", classes=[2, 2, 2])
    assert model.id_classifier.in_features == 512 + 3 and len(model.attr_heads) == 3


@pytest.mark.parametrize("lam", [-0.1, 1.5, "0.5"])
def test_bad_lambda(lam):
    model = make("apr")
    out = model(torch.randn(2, 3, 64, 32))
    with pytest.raises(ValueError, match="lambda_id must be a number in"):
        apr_loss(out, torch.tensor([0, 1]), torch.zeros(2, 27, dtype=torch.long), "apr", lam)


def test_bad_configuration_messages():
    with pytest.raises(ValueError, match=r"lambda_id=1.2: must be in \[0, 1\]"):
        APRConfig(lambda_id=1.2)
    with pytest.raises(ValueError, match="backbone='vgg99'"):
        APRConfig(backbone="vgg99")
    with pytest.raises(ValueError, match="unknown backbone 'vgg99'"):
        load_backbone("vgg99")
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['lamda'\]; valid keys: dataset"):
        from_params("smoke", lamda=0.5)
    with pytest.raises(ValueError, match="unknown scale 'huge'"):
        from_params("huge")
    with pytest.raises(ValueError, match="--set expects key=value"):
        parse_overrides(["epochs"])


def test_overrides_are_typed():
    cfg = from_params("smoke", **parse_overrides(["lambda_id=0.8", "epochs=3", "image_size=96x48", "amp=false",
                                                  "attributes=gender,hat", "lr_decay_epoch=none"]))
    assert cfg.lambda_id == 0.8 and cfg.epochs == 3 and cfg.image_size == (96, 48) and cfg.amp is False
    assert cfg.attributes == ("gender", "hat") and cfg.lr_decay_epoch is None and cfg.decay_epoch == 2


def test_missing_pretrained_weights_are_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.warns(UserWarning, match="no cached ImageNet weights for resnet18"):
        _, note = load_backbone("resnet18", "auto")
    assert "no ImageNet weights" in note
    with pytest.raises(FileNotFoundError, match="pretrained weights file not found"):
        load_backbone("resnet18", str(tmp_path / "missing.pth"))
    net, _ = load_backbone("resnet18", "none")
    path = tmp_path / "r18.pth"
    torch.save(net.state_dict(), path)
    _, note = load_backbone("resnet18", str(path))
    assert str(path) in note


def test_head_lr_factor_scales_only_the_new_layers():
    from apr.engine.train import _parameter_groups

    model = make("apr")
    backbone_group, head_group = _parameter_groups(model, from_params("smoke", head_lr_factor=10))
    assert backbone_group["lr_factor"] == 1.0 and head_group["lr_factor"] == 10.0
    assert len(backbone_group["params"]) == len(list(model.backbone.parameters()))
    heads = {id(p) for p in head_group["params"]}
    for module in (model.embedding, model.id_classifier, model.arm, *model.attr_heads):
        assert all(id(p) in heads for p in module.parameters())
    assert len(heads) + len(backbone_group["params"]) == len(list(model.parameters()))
    assert len(_parameter_groups(model, from_params("smoke"))) == 1   # as before the setting existed
    with pytest.raises(ValueError, match="head_lr_factor=0"):
        from_params("smoke", head_lr_factor=0)


def test_a_later_setting_at_its_default_keeps_the_cache_key():
    import hashlib
    import json

    from apr.config import NOT_IN_CACHE_KEY

    base = from_params("quick")
    before = {k: v for k, v in base.to_dict().items()   # the dict as hashed before the later settings existed
              if k not in (*NOT_IN_CACHE_KEY, "head_lr_factor", "train_seed", "validation_ids", "synthetic_test_ids",
                           "synthetic_train_ids", "dataset_file", "ddp_batch", "attribute_loss_reduction",
                           "pretrain_epochs")}
    assert base.key() == hashlib.sha256(json.dumps(before, sort_keys=True).encode()).hexdigest()[:12]
    assert from_params("quick", head_lr_factor=2.0).key() != base.key()
    assert from_params("quick", train_seed=1).key() != base.key()
    assert from_params("quick", ddp_batch="per_process").key() != base.key()
    assert from_params("quick", synthetic_test_ids=50).key() != base.key()
    assert from_params("quick", validation_ids=20).key() != base.key()
    assert from_params("quick", attribute_loss_reduction="sum").key() != base.key()
    assert from_params("quick", pretrain_epochs=90).key() != base.key()


def test_training_seeds_share_the_data_and_the_pretraining():
    from apr.engine.pretrain import pretrain_config

    first, second = from_params("quick"), from_params("quick", train_seed=1)
    assert first.training_seed == first.seed                      # seed 0: what runs did before the split
    assert second.training_seed != first.training_seed and second.seed == first.seed
    # every training seed starts from the data seed's one pretraining run, as every run would from ImageNet weights
    assert pretrain_config(first) == pretrain_config(second)
    with pytest.raises(ValueError, match="train_seed=-1"):
        from_params("quick", train_seed=-1)


def test_training_seed_changes_the_initialisation_only():
    from apr.engine.train import build_model

    classes = MARKET_CLASSES
    a = build_model(from_params("smoke", train_seed=0), 5, classes).state_dict()
    b = build_model(from_params("smoke", train_seed=1), 5, classes).state_dict()
    again = build_model(from_params("smoke", train_seed=1), 5, classes).state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a if k.endswith("weight"))
    assert all(torch.equal(b[k], again[k]) for k in b)


def test_imagenet_weights_load_from_torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    name = "shufflenet_v2_x0_5"
    path = imagenet_weights_file(name)
    assert path.parent == tmp_path / "hub" / "checkpoints"
    path.parent.mkdir(parents=True)
    state = torchvision.models.shufflenet_v2_x0_5(weights=None).state_dict()
    state = {k: torch.full_like(v, 0.25) if v.is_floating_point() else v for k, v in state.items()}
    torch.save(state, path)                    # a state dict saved under the file name torchvision expects
    net, note = load_backbone(name, "imagenet")
    assert torch.all(net.conv1[0].weight == 0.25)
    assert "ImageNet" in note and path.name in note


def test_imagenet_weights_missing_offline_is_one_clear_line(tmp_path, monkeypatch):
    import urllib.error
    import urllib.request

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network (test)")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(FileNotFoundError) as caught:
        load_backbone("resnet50", "imagenet")
    message = str(caught.value)
    assert "\n" not in message
    assert "resnet50-11ad3fa6.pth" in message and str(tmp_path / "hub" / "checkpoints") in message
    assert "$TORCH_HOME" in message and "--set pretrained=/path/to/resnet50-11ad3fa6.pth" in message


def test_the_paper_preset_never_starts_from_random_weights():
    assert from_params("paper").pretrained == "imagenet" and APRConfig().pretrained == "imagenet"


@pytest.mark.numerics
@pytest.mark.parametrize(("channels", "height", "width", "kernel", "bias", "channels_last"), [
    (576, 3, 2, 5, False, True),      # MobileNetV3-small's last maps at the quick preset's 96x48
    (16, 2, 2, 3, True, False),
    (8, 1, 1, 5, True, True),
    (8, 2, 4, 3, False, False),
])
def test_small_map_depthwise_convolution_equals_conv2d_forward_and_backward(channels, height, width, kernel, bias,
                                                                          channels_last):
    from apr.model import SmallMapDepthwiseConv2d

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(channels, channels, kernel, padding=kernel // 2, groups=channels, bias=bias)
    fast = SmallMapDepthwiseConv2d(conv)
    assert fast.state_dict().keys() == conv.state_dict().keys() and fast.weight is conv.weight
    x = torch.randn(5, channels, height, width)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    grad = torch.randn(5, channels, height, width)
    expected = conv(x)
    want = torch.autograd.grad(expected, [x, *conv.parameters()], grad)
    got_out = fast(x)
    got = torch.autograd.grad(got_out, [x, *fast.parameters()], grad)
    torch.testing.assert_close(got_out, expected, rtol=1e-5, atol=1e-5)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    assert got_out.is_contiguous(memory_format=torch.channels_last if channels_last and height * width > 1
                                 else torch.contiguous_format)


def test_small_map_depthwise_replaces_only_depthwise_stride_one_layers_and_larger_maps_use_conv2d(monkeypatch):
    from apr import model as model_module
    from apr.model import SmallMapDepthwiseConv2d

    net, _ = load_backbone("mobilenet_v3_small", "none")
    replaced = [m for m in net.modules() if isinstance(m, SmallMapDepthwiseConv2d)]
    plain = torchvision.models.mobilenet_v3_small(weights=None)
    assert net.state_dict().keys() == {k for k in plain.state_dict() if not k.startswith("classifier.")}
    assert replaced and all(m.stride == (1, 1) and m.groups == m.in_channels for m in replaced)
    calls = []
    monkeypatch.setattr(torch.nn.Conv2d, "_conv_forward", lambda self, x, w, b: calls.append(x.shape) or
                        torch.nn.functional.conv2d(x, w, b, self.stride, self.padding, self.dilation, self.groups))
    layer = replaced[0]
    layer(torch.randn(2, layer.in_channels, 4, 4))                      # 16 cells: nn.Conv2d's path
    layer(torch.randn(2, layer.in_channels, 2, 2))                      # 4 cells: the matrix product
    assert calls == [torch.Size([2, layer.in_channels, 4, 4])] and model_module.SMALL_MAP_CELLS < 16
