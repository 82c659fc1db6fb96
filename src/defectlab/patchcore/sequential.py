"""Sequential PatchCore coreset (paper, section IV): only the coreset is held, the stream is seen once per epoch.

The rule, for a coreset of size M with its dense distance matrix D (diagonal +inf):

- the first M stream vectors fill the coreset, in order;
- then, for each vector p in stream order, with d_p its distance to the nearest coreset point and
  d_m = min D: if d_p > d_m, p replaces point r, the lowest row index that holds d_m.

A replacement removes one end of the closest pair and adds a point farther than d_m from all
others, so d_m never decreases.

One distance routine. Every distance the rule compares comes from `pairwise`: float64, explicit
differences, summed in a fixed order. A value then depends on its two vectors only (not on the
batch, the shape or the device), a vector is exactly 0 from its twin and d(a, b) == d(b, a).
With a Gram-matrix formula (|a|^2 + |b|^2 - 2 a.b) each call rounds differently, and a d_p from
one call compared with a D from another lets a point replace its own twin epoch after epoch.

Speed. Exact distances for a whole batch cost B x M x D float64 operations, so `update` screens
the batch with one matrix product (the Gram formula, in float32 for float32 or narrower features,
in float64 for float64 features) whose rounding error is bounded: a
row whose screened distance to some point still in the coreset falls short of d_m by more than
the bound is certainly rejected; the others are decided, in order, with exact distances. After a
replacement, the later rows whose screened nearest point was the one removed are re-screened
against the current coreset, so every row is judged against the coreset it would meet one row at
a time. The outcome is that of the one-row-at-a-time rule (tests/unit/test_sequential_coreset.py).
"""

import math
from collections.abc import Sequence

import torch

_BLOCK_ELEMENTS = 1 << 22  # float64 elements of explicit differences held at once (32 MiB)
_SCREEN_ROWS = 4096  # stream rows screened by one matrix product; bounds the (rows, M) screen
MAX_SIZE = 1 << 16  # the largest coreset: its M x M float64 distance matrix takes 32 GiB


def pairwise(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(len(a), len(b)) float64 Euclidean distances; each value is a function of its two vectors only."""
    a64, b64 = a.double(), b.double()
    rows = max(1, _BLOCK_ELEMENTS // max(1, len(b) * a.shape[1]))
    blocks = [_fixed_order_sum((a64[i : i + rows, None, :] - b64[None]).square_()) for i in range(0, len(a), rows)]
    return torch.cat(blocks).sqrt() if blocks else a64.new_empty((0, len(b)))


def _fixed_order_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum over the last axis in a fixed pairwise order, in place: fold the tail beyond a power of two, then halve.

    Every element gets the same additions in the same order, unlike library reductions whose
    order may change with the tensor's shape or the device. `x` is overwritten: the folds add
    into its first half, so the sum needs no memory beyond `x` itself.
    """
    n = x.shape[-1]
    width = 1 << (n.bit_length() - 1)
    if width < n:
        x[..., : n - width].add_(x[..., width:])
        x = x[..., :width]
    while x.shape[-1] > 1:
        half = x.shape[-1] // 2
        x[..., :half].add_(x[..., half:])
        x = x[..., :half]
    return x[..., 0].clone()


class SequentialCoreset:
    """A coreset of at most `size` vectors kept by the sequential rule, with the stream ids they came from."""

    def __init__(self, size: int, device: str | torch.device = "cpu") -> None:
        """Storage grows with the points held, up to `size`: a coreset larger than its stream costs what the
        stream holds, and a `size` whose distance matrix could not fit (above MAX_SIZE) is refused at once."""
        if size < 1:
            raise ValueError(f"coreset size must be >= 1, got {size}")
        if size > MAX_SIZE:
            raise ValueError(
                f"coreset size {size} is above {MAX_SIZE}: its {size} x {size} float64 distance matrix would take "
                f"{size * size * 8 / 2**30:,.0f} GiB; lower coreset.size (or the meld size: coreset.meld_size, "
                f"an experiment's size)"
            )
        self.size = size
        self.device = torch.device(device)
        self.count = 0  # rows filled
        self.seen = 0  # stream vectors fed, numbering vectors fed without ids
        self._points: torch.Tensor | None = None  # (capacity, D) as fed
        self._screen_points = torch.empty(0)  # the points in the screening dtype
        self._norms2 = torch.empty(0)  # their squared norms
        self._origin = torch.zeros(0, dtype=torch.int64, device=self.device)
        self._dist = torch.full((0, 0), math.inf, dtype=torch.float64, device=self.device)
        self._row_min = torch.full((0,), math.inf, dtype=torch.float64, device=self.device)
        self._row_arg = torch.zeros(0, dtype=torch.int64, device=self.device)
        self._dm = math.inf
        self._victim = 0

    @property
    def features(self) -> torch.Tensor:
        """(count, D) coreset vectors, in coreset row order."""
        return self._points[: self.count] if self._points is not None else torch.empty(0, 0, device=self.device)

    @property
    def origin(self) -> torch.Tensor:
        """(count,) int64 id of the stream vector each row came from."""
        return self._origin[: self.count]

    @property
    def min_distance(self) -> float:
        """d_m, the smallest pairwise distance in the coreset (inf with fewer than 2 points)."""
        return self._dm

    def update(self, batch: torch.Tensor, ids: torch.Tensor | None = None) -> int:
        """Feed (B, D) vectors in row order; returns the number of replacements (fill additions not counted).

        `ids` (B,) label the vectors for `origin`; by default they are numbered in order of arrival.
        """
        batch = torch.as_tensor(batch)
        if batch.ndim != 2:
            raise ValueError(f"expected a (B, D) batch, got shape {tuple(batch.shape)}")
        if self._points is None:
            self._allocate(batch.shape[1], batch.dtype)
        if batch.shape[1] != self._points.shape[1]:
            raise ValueError(f"batch has {batch.shape[1]} dimensions, the coreset {self._points.shape[1]}")
        ids = self._ids(len(batch), ids)
        batch = batch.to(self.device, self._points.dtype)
        self.seen += len(batch)
        filled = min(self.size - self.count, len(batch))
        if filled:
            self._fill(batch[:filled], ids[:filled])
        return sum(
            self._stream(batch[i : i + _SCREEN_ROWS], ids[i : i + _SCREEN_ROWS])
            for i in range(filled, len(batch), _SCREEN_ROWS)
        )

    def _allocate(self, dim: int, dtype: torch.dtype) -> None:
        self._points = torch.zeros(0, dim, dtype=dtype, device=self.device)
        screen_dtype = torch.float64 if dtype == torch.float64 else torch.float32  # holds the features exactly
        self._screen_points = torch.zeros(0, dim, dtype=screen_dtype, device=self.device)
        self._norms2 = torch.zeros(0, dtype=screen_dtype, device=self.device)

    def _grow(self, needed: int) -> None:
        """Room for `needed` points: the capacity doubles, up to `size`, so it is `size` once the coreset is full."""
        capacity = len(self._points)
        if needed <= capacity:
            return
        rows = min(self.size, max(needed, 2 * capacity))
        self._points = _grown(self._points, rows)
        self._screen_points = _grown(self._screen_points, rows)
        self._norms2 = _grown(self._norms2, rows)
        self._origin = _grown(self._origin, rows)
        self._row_min = _grown(self._row_min, rows, math.inf)
        self._row_arg = _grown(self._row_arg, rows)
        dist = self._dist.new_full((rows, rows), math.inf)
        dist[:capacity, :capacity] = self._dist
        self._dist = dist

    def _ids(self, count: int, ids: torch.Tensor | None) -> torch.Tensor:
        if ids is None:
            return torch.arange(self.seen, self.seen + count, device=self.device)
        ids = torch.as_tensor(ids, dtype=torch.int64).to(self.device)
        if ids.shape != (count,):
            raise ValueError(f"{tuple(ids.shape)} ids for {count} vectors")
        return ids

    def _fill(self, rows: torch.Tensor, ids: torch.Tensor) -> None:
        """Append rows in order, with their distances to every point so far."""
        start, stop = self.count, self.count + len(rows)
        self._grow(stop)
        self._set_point(slice(start, stop), rows, ids)
        block = pairwise(rows, self._points[:stop])
        block[:, start:stop].fill_diagonal_(math.inf)
        self._dist[start:stop, :stop] = block
        self._dist[:start, start:stop] = block[:, :start].T
        self.count = stop
        self._row_min[:stop], self._row_arg[:stop] = self._dist[:stop, :stop].min(1)
        self._refresh_min_distance()

    def _set_point(self, rows: slice | int, points: torch.Tensor, ids: torch.Tensor) -> None:
        self._points[rows] = points
        self._screen_points[rows] = points.to(self._screen_points.dtype)
        self._norms2[rows] = self._screen_points[rows].square().sum(-1)
        self._origin[rows] = ids

    def _refresh_min_distance(self) -> None:
        """d_m and the row it evicts next: the lowest index whose nearest distance is d_m."""
        if self.count < 2:
            return
        row_min = self._row_min[: self.count]
        dm = row_min.min()
        self._dm = float(dm)
        self._victim = int(torch.nonzero(row_min == dm)[0, 0])

    def _stream(self, rows: torch.Tensor, ids: torch.Tensor) -> int:
        """Apply the rule to each row in order (coreset full); exact distances only for rows the screen keeps."""
        if math.isinf(self._dm):  # a single point has no pair to give up
            return 0
        screen = _Screen(rows.to(self._screen_points.dtype), self._screen_points, self._norms2)
        replaced = 0
        b = screen.next_candidate(0, self._dm, self._norms2)
        while b is not None:
            exact = pairwise(rows[b : b + 1], self._points)[0]
            if exact.min() > self._dm:
                victim = self._victim
                self._replace(victim, rows[b], ids[b], exact)
                screen.point_replaced(victim, b + 1, self._screen_points, self._norms2)
                replaced += 1
            b = screen.next_candidate(b + 1, self._dm, self._norms2)
        return replaced

    def _replace(self, r: int, point: torch.Tensor, origin: torch.Tensor, row: torch.Tensor) -> None:
        """Put `point` in row r; `row` holds its exact distances to the current points."""
        row = row.clone()
        row[r] = math.inf
        self._set_point(r, point, origin)
        self._dist[r] = row
        self._dist[:, r] = row
        stale = self._row_arg == r  # rows whose nearest point was the one removed, and row r itself
        stale[r] = True
        index = torch.nonzero(stale)[:, 0]
        self._row_min[index], self._row_arg[index] = self._dist[index].min(1)
        closer = row < self._row_min
        self._row_min = torch.where(closer, row, self._row_min)
        self._row_arg = torch.where(closer, r, self._row_arg)
        self._refresh_min_distance()


def _grown(tensor: torch.Tensor, rows: int, fill: float = 0) -> torch.Tensor:
    """A copy of `tensor` with `rows` rows: its own first, then rows of `fill`."""
    out = tensor.new_full((rows, *tensor.shape[1:]), fill)
    out[: len(tensor)] = tensor
    return out


class _Screen:
    """Squared distances of a chunk of stream rows to the coreset by the Gram formula, for rejecting rows.

    `near[b]` is row b's screened squared distance to a point still in the coreset: up to the
    rounding bound, an upper bound of its exact nearest distance squared, which is all a rejection
    needs. The matrix holds |f|^2 - 2 p.f (one fused product, no (B, M) temporaries); the row's own
    |p|^2 is added after the minimum, which it does not change. Entries of replaced points ("dirty"
    columns) are refreshed only for the rows whose nearest point was replaced, the only rows whose
    bound is lost.
    """

    def __init__(self, rows: torch.Tensor, points: torch.Tensor, point_norms2: torch.Tensor) -> None:
        self.rows = rows
        self.norms2 = rows.square().sum(1)
        self.gram = _gram_part(point_norms2, rows, points)
        self.near, self.near_arg = self.gram.min(1)
        self.near += self.norms2
        self.dirty = torch.zeros(len(points), dtype=torch.bool, device=rows.device)
        self.eps = torch.finfo(rows.dtype).eps

    def next_candidate(self, start: int, dm: float, point_norms2: torch.Tensor) -> int | None:
        """The first row from `start` on whose nearest distance may exceed d_m, or None."""
        # Dot products of D terms summed in any order err by at most D u sum|p_i f_i| (u = eps / 2), so
        # |Gram - exact^2| <= (D + 2) eps (|p|^2 + |f|^2) with the norms and the two additions; 16x for margin
        slack = 16 * (self.rows.shape[1] + 4) * self.eps * (self.norms2[start:] + point_norms2.max())
        hits = torch.nonzero(self.near[start:] + slack > dm * dm)
        return start + int(hits[0, 0]) if len(hits) else None

    def point_replaced(self, r: int, start: int, points: torch.Tensor, point_norms2: torch.Tensor) -> None:
        """Re-screen the rows from `start` on whose nearest point was r, against the current coreset."""
        self.dirty[r] = True
        stale = start + torch.nonzero(self.near_arg[start:] == r)[:, 0]
        if not len(stale):
            return
        cols = torch.nonzero(self.dirty)[:, 0]
        self.gram[stale[:, None], cols] = _gram_part(point_norms2[cols], self.rows[stale], points[cols])
        near, self.near_arg[stale] = self.gram[stale].min(1)
        self.near[stale] = near + self.norms2[stale]


def _gram_part(point_norms2: torch.Tensor, rows: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """(rows, points) |f|^2 - 2 p.f to within the rounding of IEEE arithmetic in the rows' dtype.

    The screen's rounding bound fails for the TF32 or bf16 inputs that a process-wide setting may give
    float32 matrix products; that setting is read, never changed (changing it would reach every thread
    of the process). Where it is reduced, the product is taken in float64, which no setting narrows,
    and rounded back to float32: one more rounding, far inside the bound.
    """
    if rows.dtype != torch.float32 or _ieee_float32_products(rows.device):
        return torch.addmm(point_norms2, rows, points.T, alpha=-2)
    return torch.addmm(point_norms2.double(), rows.double(), points.double().T, alpha=-2).float()


def _ieee_float32_products(device: torch.device) -> bool:
    """Whether float32 matrix products on `device` take their inputs at full precision (no TF32 or bf16)."""
    backend = {"cuda": torch.backends.cuda.matmul, "cpu": torch.backends.mkldnn.matmul}.get(device.type)
    return backend is None or backend.fp32_precision in ("none", "ieee")


def meld(
    coresets: Sequence[SequentialCoreset], size: int, max_epochs: int = 1, history: list[int] | None = None
) -> SequentialCoreset:
    """A new coreset fed, in order, with the points and origins of `coresets`, by the same rule.

    Like training, melding repeats passes over the source points until one makes no replacement or
    `max_epochs` is reached; the fill of the first pass counts as no replacement. The replacements of
    each pass are appended to `history` when given.
    """
    if not coresets:
        raise ValueError("nothing to meld")
    if max_epochs < 1:
        raise ValueError(f"max_epochs must be >= 1, got {max_epochs}")
    melded = SequentialCoreset(size, device=coresets[0].device)
    for _ in range(max_epochs):
        replaced = sum(melded.update(c.features, ids=c.origin) for c in coresets if c.count)
        if history is not None:
            history.append(replaced)
        if replaced == 0:
            break
    return melded
