import torch

from nerfplex.fields.encodings import FrequencyEncoding


def test_frequency_encoding_matches_definition():
    enc = FrequencyEncoding(3, 4)
    x = torch.tensor([[0.3, -1.2, 2.0]])
    expected = [x]
    for k in range(4):
        expected += [torch.sin(2.0**k * x), torch.cos(2.0**k * x)]  # the authors' order, no pi
    assert enc.out_dim == 27
    assert torch.allclose(enc(x), torch.cat(expected, -1), atol=1e-6)


def test_paper_sizes():
    assert FrequencyEncoding(3, 10).out_dim == 63
    assert FrequencyEncoding(3, 4).out_dim == 27
    assert FrequencyEncoding(3, 4, include_input=False).out_dim == 24
