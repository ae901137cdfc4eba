"""A decoding constraint learned from the training data: no ring larger than the training molecules' largest.

SELFIES writes a ring as a ring symbol (``[Ring1]``, ``[=Ring2]``...) followed by one to three index
symbols that say how many atoms back, in the order the atoms were written, the ring bond goes. A
decoder that slips there closes a macrocycle that no training molecule has (MOSES-train has no ring
of more than 7 atoms; its filters reject larger ones), and SELFIES writes it without complaint.

:class:`RingLimit` follows each sequence's SELFIES derivation as it is decoded, as
``selfies.decoder`` does (the same grammar rules and bond capacities, so the same atoms and ring
bonds), and at an index symbol bans the tokens whose index would close a ring larger than
``max_ring`` atoms: the length of the shortest path between the ring bond's two atoms in the graph
written so far, plus one. An index that closes no ring (onto a neighbour: SELFIES then raises the
bond order) is always allowed, so some token always is. The limit comes from the data
(:func:`molvae.domain.largest_ring`, recorded by ``molvae fit-prior`` in the checkpoint's ``meta["domain"]``),
never by hand, so a model fitted to macrocycles keeps them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence

import numpy as np
from selfies.grammar_rules import (INDEX_CODE, next_atom_state, next_branch_state, next_ring_state,
                                   process_atom_symbol, process_branch_symbol, process_ring_symbol)

from molvae.chem import selfies_constraints
from molvae.errors import MolvaeError

BASE = len(INDEX_CODE)  # 16 index symbols: a ring symbol's n index symbols give 0 .. 16**n - 1


class _Derivation:
    """The atoms, bonds and pending ring index of a SELFIES prefix, derived as ``selfies.decoder`` derives it."""

    def __init__(self, symbols: Sequence[str]):
        self.symbols, self.pos = symbols, 0
        self.neighbours: list[list[int]] = []  # the bonds written as the atoms were (not the ring bonds)
        self.capacity: list[int] = []  # each atom's bonding capacity (the SELFIES constraints)
        self.bonds: list[int] = []  # the bond orders on each atom so far
        self.rings: list[tuple[int, int, int]] = []  # (earlier atom, ring's atom, bond order) of each ring symbol read
        self.pending: tuple[int, int, list[str]] | None = None  # (ring's atom, index symbols needed, read so far)
        self._derive(max_derive=float("inf"), state=0, prev=None)

    def _next(self) -> str | None:
        if self.pos >= len(self.symbols):
            return None
        self.pos += 1
        return self.symbols[self.pos - 1]

    def _index(self, n: int, ring_atom: int | None = None) -> int | None:
        """The index of the next `n` symbols; None when the prefix ends inside them (noting a ring's)."""
        read = self.symbols[self.pos:self.pos + n]
        self.pos += len(read)
        if len(read) < n:
            if ring_atom is not None:
                self.pending = (ring_atom, n, list(read))
            return None
        return sum(INDEX_CODE.get(s, 0) * BASE ** (n - 1 - i) for i, s in enumerate(read))

    def _derive(self, max_derive: float, state: int | None, prev: int | None) -> int:
        n_derived = 0
        while state is not None and n_derived < max_derive:
            symbol = self._next()
            if symbol is None:
                break
            n_derived += 1
            next_state = state
            branch = process_branch_symbol(symbol)
            ring = None if branch else process_ring_symbol(symbol)
            if branch is not None:
                if state > 1:
                    branch_state, next_state = next_branch_state(branch[0], state)
                    q = self._index(branch[1])
                    if q is None:
                        return n_derived
                    n_derived += branch[1] + self._derive(q + 1, branch_state, prev)
            elif ring is not None:
                if state != 0:
                    ring_order, next_state = next_ring_state(ring[0], state)
                    q = self._index(ring[1], ring_atom=prev)
                    if q is None:
                        return n_derived
                    n_derived += ring[1]
                    self.rings.append((max(0, prev - (q + 1)), prev, ring_order))
            elif "eps" in symbol:
                next_state = 0 if state == 0 else None
            else:
                atom = process_atom_symbol(symbol)
                if atom is None:  # not a SELFIES symbol: selfies.decoder would raise; nothing to constrain
                    return n_derived
                (order, _), element = atom
                order, next_state = next_atom_state(order, element.bonding_capacity, state)
                if order != 0 or state == 0:  # (selfies adds no atom for a bond order of 0 after an atom)
                    self.neighbours.append([])
                    self.capacity.append(element.bonding_capacity)
                    self.bonds.append(0)
                    new = len(self.neighbours) - 1
                    if order != 0:
                        self.neighbours[prev].append(new)
                        self.neighbours[new].append(prev)
                        self.bonds[prev] += order
                        self.bonds[new] += order
                    prev = new
            state = next_state
        while n_derived < max_derive and self._next() is not None:  # a branch's unused symbols
            n_derived += 1
        return n_derived

    def ring_bonds(self) -> tuple[list[list[int]], list[int]]:
        """The bonds with the ring bonds read so far added, and the bond orders on each atom, where
        ``selfies.decoder`` forms them (after the atoms, in order, where both atoms have room left).
        Exact for the atoms written so far; a later atom can still take room a ring bond counted on."""
        neighbours, bonds = [list(n) for n in self.neighbours], list(self.bonds)
        for left, right, order in self.rings:
            free = min(self.capacity[left] - bonds[left], self.capacity[right] - bonds[right])
            if left == right or free <= 0:
                continue
            if right in neighbours[left]:  # onto a bonded atom: the bond order rises (to 3 at most)
                continue  # (no new path; the room it takes is not tracked)
            neighbours[left].append(right)
            neighbours[right].append(left)
            bonds[left] += min(order, free)
            bonds[right] += min(order, free)
        return neighbours, bonds

    def distances(self, source: int, neighbours: list[list[int]]) -> np.ndarray:
        """Bonds on the shortest path from `source` to each atom over `neighbours` (a large number where none)."""
        dist = np.full(len(neighbours), 1 << 20)
        dist[source] = 0
        queue = deque([source])
        while queue:
            a = queue.popleft()
            for b in neighbours[a]:
                if dist[b] > dist[a] + 1:
                    dist[b] = dist[a] + 1
                    queue.append(b)
        return dist


class RingLimit:
    """Bans, at each decoding step, the index symbols that would close a ring of more than `max_ring`
    atoms (see the module's docstring). `tokens` is the model's vocabulary (its specials included),
    `constraints` its SELFIES bond capacities (as the model decodes with)."""

    def __init__(self, tokens: Sequence[str], max_ring: int, constraints: Mapping[str, int] | None = None):
        if max_ring < 3:
            raise ValueError(f"max_ring must be at least 3 (the smallest ring), got {max_ring}")
        self.tokens, self.max_ring, self.constraints = list(tokens), int(max_ring), constraints
        self.value = np.array([INDEX_CODE.get(t, 0) for t in self.tokens])  # each token read as an index symbol
        # a row needs its derivation only when one of its last three symbols is a ring symbol
        self.ring_ids = np.array([process_ring_symbol(t) is not None for t in self.tokens])
        self.rows_checked = self.tokens_banned = 0

    def allowed_indices(self, derivation: _Derivation) -> np.ndarray:
        """Which complete indices (0 .. 16**n - 1) of the pending ring close no ring over the limit."""
        ring_atom, n, _ = derivation.pending
        neighbours, bonds = derivation.ring_bonds()
        room = np.array(derivation.capacity) - np.array(bonds)
        q = np.arange(BASE ** n)
        target = np.maximum(0, ring_atom - (q + 1))
        path = derivation.distances(ring_atom, neighbours)[target]
        # allowed: a ring within the limit, no ring (onto a neighbour), or a bond selfies will not form
        return (path <= 1) | (path + 1 <= self.max_ring) | (room[target] <= 0) | (room[ring_atom] <= 0)

    def banned(self, prefixes: np.ndarray, specials: int = 4) -> np.ndarray | None:
        """(rows, vocabulary) booleans: the tokens each row may not write next, given the ids it has
        written (`prefixes`, padded, specials below id `specials`); None where no row is constrained."""
        rows, steps = prefixes.shape
        if steps == 0:
            return None
        recent = self.ring_ids[prefixes[:, max(0, steps - 3):]].any(axis=1)
        if not recent.any():
            return None
        out = None
        with selfies_constraints(self.constraints):
            for r in np.flatnonzero(recent):
                symbols = [self.tokens[i] for i in prefixes[r] if i >= specials]
                derivation = _Derivation(symbols)
                if derivation.pending is None:
                    continue
                self.rows_checked += 1
                allowed = self.allowed_indices(derivation)
                _, n, read = derivation.pending
                done = sum(INDEX_CODE.get(s, 0) * BASE ** (n - 1 - i) for i, s in enumerate(read))
                span = BASE ** (n - 1 - len(read))  # indices each value of the next symbol covers
                start = done + np.arange(BASE) * span
                ok_value = np.array([allowed[s:s + span].any() for s in start])
                bad = ~ok_value[self.value]
                bad[:specials] = False
                if bad.any():
                    if out is None:
                        out = np.zeros((rows, len(self.tokens)), dtype=bool)
                    out[r] = bad
                    self.tokens_banned += 1
        return out


def resolve_max_ring(value: int | str | None, recorded: int = 0) -> int | None:
    """The ring limit to decode with: "auto" is `recorded` (the checkpoint's, from its training
    molecules; none where it records none), "none" or None is no limit, a number at least 3 is that."""
    if value is None or value == "none":
        return None
    if value == "auto":
        return recorded or None
    try:
        limit = int(value)
    except (TypeError, ValueError):
        limit = 0
    if limit < 3 or str(limit) != str(value).strip():
        raise MolvaeError(f"max_ring must be 'auto', 'none' or a whole number of atoms of at least 3, got {value!r}")
    return limit
