"""``xtuner log-dataset``: the training rows as the model sees them, trained tokens marked."""
import json
import re

from conftest import xtuner

TINY = 'tiny_llama_full_alpaca_demo'


def test_log_dataset_marks_the_trained_answer(tmp_path):
    data = tmp_path / 'd.jsonl'
    data.write_text(json.dumps({'instruction': 'Say hi.', 'input': '', 'output': 'hi'}) + '\n')
    r = xtuner('log-dataset', TINY, '-n', '3', '--cfg-options',
               f'train_dataloader.dataset.dataset.data_files={data}')
    assert r.returncode == 0, r.stderr[-2000:]
    out = r.stdout
    assert re.search(r'^1 rows in the training set of .*tiny_llama_full_alpaca_demo\.py$', out,
                     re.M)
    # chatml: the prompt is context, the answer and its <|im_end|> are trained
    # 1 bos + 1 + 12 + 1 + 1 + 1 + 10 prompt tokens, 'hi' + <|im_end|> trained, '\n' separator
    assert ('--- row 0: 31 tokens, 3 trained ---\n'
            '<|bos|><|im_start|>user\nSay hi.<|im_end|>\n<|im_start|>assistant\n'
            '[[hi<|im_end|>]]\n') in out


def test_log_dataset_bad_input(tmp_path):
    r = xtuner('log-dataset', TINY, '--cfg-options',
               'train_dataloader.dataset.dataset.data_files=/no/file.jsonl')
    assert r.returncode == 2 and "dataset file '/no/file.jsonl' does not exist" in r.stderr


def test_list_dataset_format_lists_every_format():
    from xtuner.dataset.map_fns import DATASET_FORMAT_MAPPING
    r = xtuner('list-dataset-format')
    assert r.returncode == 0, r.stderr
    rows = [line.split()[:2] for line in r.stdout.splitlines()]
    assert rows == [[name, fn.__name__] for name, fn in sorted(DATASET_FORMAT_MAPPING.items())]
    assert ['openai', 'openai_map_fn'] in rows and ['alpaca', 'alpaca_map_fn'] in rows
