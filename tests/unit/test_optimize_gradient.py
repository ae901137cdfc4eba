"""The gradient search's residual MLP: its fit costs at most `rows` points a step however many it holds."""

import torch

from molvae.optimize.gradient import fit_residual_mlp


def smooth_data(n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 8, generator=g)
    return z, torch.sin(z[:, 0]) + 0.5 * z[:, 1] ** 2 - z[:, 2]


def fit_batch_sizes(z, y, rows):
    """The fitted (net, mean, sd) and the number of points each of the MLP's forward passes saw."""
    sizes = []

    def record(module, inputs, output):
        if isinstance(module, torch.nn.Linear) and module.in_features == z.shape[1]:
            sizes.append(inputs[0].shape[0])

    handle = torch.nn.modules.module.register_module_forward_hook(record)
    try:
        torch.manual_seed(0)
        fitted = fit_residual_mlp(z, y, rows=rows)
    finally:
        handle.remove()
    return fitted, sizes


def test_fit_above_rows_takes_random_batches_and_still_fits():
    z, y = smooth_data(3000, 0)
    (net, mean, sd), sizes = fit_batch_sizes(z, y, rows=256)
    assert sizes and set(sizes) == {256}
    zt, yt = smooth_data(500, 99)
    with torch.no_grad():
        pred = net(zt).squeeze(-1) * sd + mean
    assert float(torch.corrcoef(torch.stack([pred, yt]))[0, 1]) > 0.9


def test_fit_below_rows_sees_every_point_each_step():
    z, y = smooth_data(300, 1)
    _, sizes = fit_batch_sizes(z, y, rows=4096)
    assert set(sizes) == {300}
