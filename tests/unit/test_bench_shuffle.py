"""bench's shuffled import file: the same lines, in an order that depends only on the seed."""

from __future__ import annotations

from bench.run import shuffled_copy


def test_shuffled_copy_keeps_every_line_and_follows_the_seed(tmp_path):
    source = tmp_path / "events.jsonl"
    lines = [f'{{"event_id": "ev-{i}"}}\n' for i in range(1000)]
    source.write_text("".join(lines)[:-1])  # a last line without its newline still ends as a line

    first, again, other = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    shuffled_copy(source, first, seed=1)
    shuffled_copy(source, again, seed=1)
    shuffled_copy(source, other, seed=2)

    written = first.read_text().splitlines(keepends=True)
    assert sorted(written) == sorted(lines)
    assert written != lines
    assert again.read_text() == first.read_text()
    assert other.read_text() != first.read_text()
