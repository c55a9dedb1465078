"""Write ``alpaca_demo.jsonl``: xtuner's own small instruction set, in Alpaca format.

Short tasks with one fixed answer format each (arithmetic, unit conversion, word games, days
of the week, antonyms, string formatting), so a 135M chat model visibly learns them in a few
dozen optimizer steps on CPU. Every answer is computed here, never typed by hand. The output
is a pure function of ``SEED``: ``python -m xtuner.dataset.demo.make_alpaca_demo`` rewrites
the shipped file byte for byte.
"""
import argparse
import json
import os.path as osp
import random

SEED = 20261122
ROWS_PER_TASK = 25

WORDS = [
    'apple', 'banana', 'cat', 'dog', 'house', 'river', 'garden', 'window', 'pencil', 'yellow',
    'orange', 'purple', 'summer', 'winter', 'rabbit', 'turtle', 'butter', 'coffee', 'planet',
    'rocket', 'forest', 'island', 'bridge', 'castle', 'dragon', 'guitar', 'ladder', 'mirror',
    'pepper', 'silver', 'tomato', 'violin', 'zebra', 'lemon', 'cherry', 'candle', 'kitten',
    'puzzle', 'rainbow', 'school', 'teacher', 'doctor', 'market', 'letter', 'bottle', 'jacket',
    'monkey', 'button', 'pillow', 'tiger', 'horse', 'cloud', 'stone', 'bread', 'music',
    'paper', 'light', 'water', 'green', 'happy',
]
ANTONYMS = [
    ('hot', 'cold'), ('big', 'small'), ('fast', 'slow'), ('up', 'down'), ('open', 'closed'),
    ('light', 'dark'), ('happy', 'sad'), ('early', 'late'), ('full', 'empty'), ('hard', 'soft'),
    ('high', 'low'), ('long', 'short'), ('old', 'new'), ('rich', 'poor'), ('strong', 'weak'),
    ('wet', 'dry'), ('loud', 'quiet'), ('thick', 'thin'), ('asleep', 'awake'), ('clean', 'dirty'),
    ('inside', 'outside'), ('first', 'last'), ('push', 'pull'), ('win', 'lose'),
    ('buy', 'sell'), ('true', 'false'), ('come', 'go'), ('near', 'far'), ('day', 'night'),
    ('left', 'right'),
]  # every word in one pair only, so each question has one answer
DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday']
UNITS = [  # (from, to, factor): n <from> = n * factor <to>
    ('kilometers', 'meters', 1000), ('meters', 'centimeters', 100),
    ('kilograms', 'grams', 1000), ('liters', 'milliliters', 1000), ('hours', 'minutes', 60),
    ('minutes', 'seconds', 60), ('days', 'hours', 24), ('weeks', 'days', 7),
    ('feet', 'inches', 12), ('years', 'months', 12),
]
FIRST_NAMES = ['Anna', 'Ben', 'Clara', 'David', 'Elena', 'Felix', 'Grace', 'Hugo', 'Iris',
               'Jonas', 'Kira', 'Leo', 'Mia', 'Noah', 'Olga', 'Paul']
LAST_NAMES = ['Smith', 'Garcia', 'Novak', 'Berg', 'Tanaka', 'Rossi', 'Silva', 'Keller',
              'Dubois', 'Larsen', 'Moreau', 'Walsh']
COLORS = ['red', 'green', 'blue', 'black', 'white', 'pink', 'gray', 'brown', 'gold']


def add(rng):
    a, b = rng.randint(2, 99), rng.randint(2, 99)
    return f'What is {a} + {b}?', '', f'{a} + {b} = {a + b}.'


def subtract(rng):
    a = rng.randint(10, 99)
    b = rng.randint(1, a)
    return f'What is {a} - {b}?', '', f'{a} - {b} = {a - b}.'


def multiply(rng):
    a, b = rng.randint(2, 12), rng.randint(2, 12)
    return f'What is {a} * {b}?', '', f'{a} * {b} = {a * b}.'


def convert_units(rng):
    src, dst, factor = rng.choice(UNITS)
    n = rng.randint(2, 20)
    return f'Convert {n} {src} to {dst}.', '', f'{n} {src} = {n * factor} {dst}.'


def reverse_word(rng):
    w = rng.choice(WORDS)
    return f'Reverse the word "{w}".', '', f'"{w}" reversed is "{w[::-1]}".'


def uppercase_word(rng):
    w = rng.choice(WORDS)
    return 'Write the word in capital letters.', w, f'{w.upper()}'


def count_letters(rng):
    w = rng.choice(WORDS)
    return f'How many letters are in the word "{w}"?', '', f'"{w}" has {len(w)} letters.'


def count_one_letter(rng):
    w = rng.choice(WORDS)
    c = rng.choice(w) if rng.random() < 0.8 else rng.choice('abcdefghijklmnopqrstuvwxyz')
    k = w.count(c)
    return (f'How many times does the letter "{c}" appear in "{w}"?', '',
            f'The letter "{c}" appears {k} time{"" if k == 1 else "s"} in "{w}".')


def days_after(rng):
    day, n = rng.randrange(7), rng.randint(1, 10)
    name, later = DAYS[day], DAYS[(day + n) % 7]
    if n == 1:
        return f'What day comes after {name}?', '', f'The day after {name} is {later}.'
    return f'What day is {n} days after {name}?', '', f'{n} days after {name} is {later}.'


def opposite(rng):
    pair = rng.choice(ANTONYMS)
    w, a = pair if rng.random() < 0.5 else pair[::-1]
    return f'What is the opposite of "{w}"?', '', f'The opposite of "{w}" is "{a}".'


def spell_word(rng):
    w = rng.choice(WORDS)
    return f'Spell the word "{w}" letter by letter.', '', '-'.join(w) + '.'


def last_first(rng):
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    return 'Write the name as "Last, First".', f'{first} {last}', f'{last}, {first}'


def sort_numbers(rng):
    nums = rng.sample(range(1, 100), rng.randint(3, 6))
    return ('Sort the numbers from smallest to largest.', ', '.join(map(str, nums)),
            ', '.join(map(str, sorted(nums))))


def even_or_odd(rng):
    n = rng.randint(1, 999)
    return f'Is {n} even or odd?', '', f'{n} is {"even" if n % 2 == 0 else "odd"}.'


def larger(rng):
    a, b = rng.sample(range(1, 1000), 2)
    return f'Which is larger, {a} or {b}?', '', f'{max(a, b)} is larger than {min(a, b)}.'


def join_hyphens(rng):
    words = rng.sample(COLORS, rng.randint(2, 4))
    return 'Join the words with hyphens.', ' '.join(words), '-'.join(words)


TASKS = [add, subtract, multiply, convert_units, reverse_word, uppercase_word, count_letters,
         count_one_letter, days_after, opposite, spell_word, last_first, sort_numbers,
         even_or_odd, larger, join_hyphens]


def make_rows(seed: int = SEED, rows_per_task: int = ROWS_PER_TASK) -> list[dict]:
    """``rows_per_task`` distinct rows of each task, shuffled; a pure function of ``seed``."""
    rng = random.Random(seed)
    rows = []
    for task in TASKS:
        seen = set()
        while len(seen) < rows_per_task:
            row = task(rng)
            if row not in seen:
                seen.add(row)
                rows.append(dict(zip(('instruction', 'input', 'output'), row)))
    rng.shuffle(rows)
    return rows


def write_jsonl(path: str, seed: int = SEED) -> int:
    """Write the rows to ``path`` (one JSON object a line, UTF-8, ``\\n``); return the count."""
    rows = make_rows(seed)
    with open(path, 'w', encoding='utf-8', newline='\n') as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + '\n')
    return len(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default=osp.join(osp.dirname(osp.abspath(__file__)),
                                                  'alpaca_demo.jsonl'))
    args = parser.parse_args()
    print(f'wrote {write_jsonl(args.out)} rows to {args.out}')


if __name__ == '__main__':
    main()
