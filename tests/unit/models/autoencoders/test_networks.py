"""The networks of Tables 2-4: shapes for the sizes the architecture allows, the spec's parameter counts (§3.7),
the Sigmoid's range, the VAE decoding μ in eval mode, and the critic."""

import pytest
import torch

from defectlab.models.autoencoders.networks import Autoencoder, Critic


def parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(
    ("architecture", "channels", "size", "cae", "vae"),
    [
        ("synthetic", 1, 64, 870_389, 972_889),
        ("synthetic", 1, 128, 2_444_021, 2_546_521),
        ("synthetic", 1, 256, 8_738_549, 8_841_049),
        ("synthetic", 1, 512, 33_916_661, 34_019_161),
        ("industrial", 3, 128, 2_518_455, 2_518_455 + 102_500),
        ("industrial", 1, 128, 2_517_877, 2_517_877 + 102_500),
    ],
)
def test_parameter_counts_are_the_specs(architecture, channels, size, cae, vae):
    with torch.device("meta"):  # counted without allocating the 512² network
        assert parameters(Autoencoder(architecture, channels, size)) == cae
        assert parameters(Autoencoder(architecture, channels, size, variational=True)) == vae


def test_the_critic_has_1021_parameters_and_no_sigmoid():
    critic = Critic()
    assert parameters(critic) == 1021
    assert not any(isinstance(m, torch.nn.Sigmoid) for m in critic.modules())
    with torch.no_grad():
        critic.lind2.bias.fill_(-5.0)  # a negative score passes the Leaky ReLU scaled, unbounded below
        assert (critic(torch.zeros(3, 100)) < 0).all()
        assert (Critic(output="none")(torch.randn(64, 100)) < 0).any()


@pytest.mark.parametrize(
    ("architecture", "channels", "size", "options"),
    [
        ("synthetic", 1, 64, {}),
        ("synthetic", 1, 128, {}),
        ("synthetic", 3, 256, {}),
        ("industrial", 1, 128, {}),
        ("industrial", 3, 128, {}),
        ("industrial", 3, 128, {"decoder_stride1": "deconv4"}),
        ("synthetic", 1, 64, {"downsample": "maxpool", "upsample": "nearest"}),
    ],
)
def test_output_has_the_input_shape(architecture, channels, size, options):
    with torch.device("meta"):
        for variational in (False, True):
            net = Autoencoder(architecture, channels, size, variational=variational, **options)
            assert net(torch.empty(2, channels, size, size)).shape == (2, channels, size, size)
            code = net.encoder(torch.empty(2, channels, size, size))
            assert (code[0] if variational else code).shape == (2, 100)


def test_sizes_the_architecture_does_not_allow_are_refused():
    for size in (0, 8, 72, 100):
        with pytest.raises(ValueError, match="multiple of 16"):
            Autoencoder(size=size)


def test_the_sigmoid_keeps_reconstructions_in_0_1():
    torch.manual_seed(0)
    net = Autoencoder(size=64)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(20)  # saturate: the output layer must still stay in [0, 1]
        out = net(torch.rand(2, 1, 64, 64) * 10 - 5)
    assert out.min() >= 0 and out.max() <= 1
    assert isinstance(list(net.decoder.deconvs.values())[-1], torch.nn.ConvTranspose2d)


def test_the_vae_decodes_mu_in_eval_mode_and_samples_in_training():
    torch.manual_seed(0)
    net = Autoencoder(size=64, hidden=64, latent=8, variational=True)
    x = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        net.encoder.lin22.bias.fill_(1.0)  # σ = e: samples far from μ
        mu, _ = net.encoder(x)
        net.eval()
        assert torch.equal(net(x), net.decoder(mu))
        assert torch.equal(net(x), net(x))
        net.train()
        assert not torch.allclose(net(x), net.decoder(mu))
        sampling = Autoencoder(size=64, hidden=64, latent=8, variational=True, test_latent="sample").eval()
        assert not torch.equal(sampling(x), sampling(x))
