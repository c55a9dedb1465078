import json
import os.path as osp
import re

from xtuner.dataset.demo import ALPACA_DEMO
from xtuner.dataset.demo import make_alpaca_demo as gen

DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday']
FACTORS = {(src, dst): f for src, dst, f in gen.UNITS}


def _rows():
    with open(ALPACA_DEMO, encoding='utf-8') as f:
        return [json.loads(line) for line in f]


def _expected(instruction, inp):
    """Recompute the answer from the question (and input); None for an unknown question."""
    m = re.fullmatch(r'What is (\d+) ([-+*]) (\d+)\?', instruction)
    if m:
        a, op, b = int(m[1]), m[2], int(m[3])
        value = {'+': a + b, '-': a - b, '*': a * b}[op]
        return f'{a} {op} {b} = {value}.'
    m = re.fullmatch(r'Convert (\d+) (\w+) to (\w+)\.', instruction)
    if m:
        n = int(m[1])
        return f'{n} {m[2]} = {n * FACTORS[m[2], m[3]]} {m[3]}.'
    m = re.fullmatch(r'Reverse the word "(\w+)"\.', instruction)
    if m:
        return f'"{m[1]}" reversed is "{"".join(reversed(m[1]))}".'
    m = re.fullmatch(r'How many letters are in the word "(\w+)"\?', instruction)
    if m:
        return f'"{m[1]}" has {len(m[1])} letters.'
    m = re.fullmatch(r'What day is (\d+) days after (\w+)\?', instruction)
    if m:
        return f'{m[1]} days after {m[2]} is {DAYS[(DAYS.index(m[2]) + int(m[1])) % 7]}.'
    m = re.fullmatch(r'Is (\d+) even or odd\?', instruction)
    if m:
        return f'{m[1]} is {"odd" if int(m[1]) % 2 else "even"}.'
    m = re.fullmatch(r'What day comes after (\w+)\?', instruction)
    if m:
        return f'The day after {m[1]} is {DAYS[(DAYS.index(m[1]) + 1) % 7]}.'
    m = re.fullmatch(r'How many times does the letter "(\w)" appear in "(\w+)"\?', instruction)
    if m:
        k = sum(ch == m[1] for ch in m[2])
        return f'The letter "{m[1]}" appears {k} time{"s" * (k != 1)} in "{m[2]}".'
    m = re.fullmatch(r'Spell the word "(\w+)" letter by letter\.', instruction)
    if m:
        return '-'.join(list(m[1])) + '.'
    m = re.fullmatch(r'Which is larger, (\d+) or (\d+)\?', instruction)
    if m:
        a, b = sorted([int(m[1]), int(m[2])])
        return f'{b} is larger than {a}.'
    m = re.fullmatch(r'What is the opposite of "(\w+)"\?', instruction)
    if m:
        other = {a: b for pair in gen.ANTONYMS for a, b in (pair, pair[::-1])}[m[1]]
        return f'The opposite of "{m[1]}" is "{other}".'
    if instruction == 'Write the name as "Last, First".':
        first, last = inp.split(' ')
        return f'{last}, {first}'
    if instruction == 'Join the words with hyphens.':
        return inp.replace(' ', '-')
    if instruction == 'Sort the numbers from smallest to largest.':
        return ', '.join(str(n) for n in sorted(int(x) for x in inp.split(', ')))
    if instruction == 'Write the word in capital letters.':
        return inp.upper()
    return None


def test_demo_file_shape():
    assert osp.isabs(ALPACA_DEMO) and osp.isfile(ALPACA_DEMO)
    rows = _rows()
    assert len(rows) == len(gen.TASKS) * gen.ROWS_PER_TASK == 400
    for row in rows:
        assert list(row) == ['instruction', 'input', 'output']
        assert all(isinstance(v, str) for v in row.values())
        assert row['instruction'] and row['output']
        assert len(json.dumps(row)) < 200  # short: well under 60 tokens of any real tokenizer
    assert len({json.dumps(r) for r in rows}) == len(rows)  # no duplicates
    with_input = sum(bool(r['input']) for r in rows)
    assert with_input == 4 * gen.ROWS_PER_TASK  # uppercase, last_first, sort, join


def test_demo_answers_recomputed():
    checked = 0
    for row in _rows():
        expected = _expected(row['instruction'], row['input'])
        if expected is not None:
            assert row['output'] == expected, row
            checked += 1
    assert checked == 400  # every task is parsed and recomputed: nothing passed unchecked


def test_antonyms_are_unambiguous():
    words = [w for pair in gen.ANTONYMS for w in pair]
    assert len(words) == len(set(words))


def test_generator_reproduces_shipped_file(tmp_path):
    out = tmp_path / 'alpaca_demo.jsonl'
    assert gen.write_jsonl(str(out)) == 400
    with open(ALPACA_DEMO, 'rb') as f:
        assert out.read_bytes() == f.read()
    # A different seed gives different data, so the seed is what pins the file.
    other = tmp_path / 'other.jsonl'
    gen.write_jsonl(str(other), seed=gen.SEED + 1)
    assert other.read_bytes() != out.read_bytes()
