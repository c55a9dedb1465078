"""Install xtuner.

torch is a requirement, but install it yourself first (CPU: ``pip install torch==2.13.0``):
the range below is satisfied by any torch >= 2.4 already present, so pip never swaps a
CPU build for a multi-GB CUDA one.
"""
from setuptools import find_packages, setup

from pathlib import Path


def read_version():
    scope = {}
    exec(Path(__file__).with_name('xtuner').joinpath('version.py').read_text(), scope)
    return scope['__version__']


CORE = [
    'torch>=2.4',
    'mmengine>=0.10.7',
    'transformers>=4.48',
    'datasets>=2.19',
    'peft>=0.14',
    'accelerate>=1.0',
    'safetensors',
    'sentencepiece',
    'gguf>=0.10',  # reads the offline demo model (a GGUF file)
]
EXTRAS = {
    'deepspeed': ['deepspeed>=0.16'],
    'qlora': ['bitsandbytes>=0.45'],
    'flash-attn': ['flash-attn>=2.6'],
    'test': ['pytest>=8'],
}
EXTRAS['all'] = sorted({d for k in ('deepspeed', 'qlora', 'test') for d in EXTRAS[k]})

setup(
    name='xtuner',
    version=read_version(),
    description='Fine-tune large language models fast, from one config file, on one CPU, '
    'one GPU or a thousand GPUs.',
    long_description=Path(__file__).with_name('README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.10',
    packages=find_packages(include=['xtuner', 'xtuner.*']),
    include_package_data=True,
    package_data={'xtuner': ['configs/**/*.py', 'configs/**/*.json', 'dataset/demo/*.jsonl']},
    install_requires=CORE,
    extras_require=EXTRAS,
    entry_points={'console_scripts': ['xtuner = xtuner.entry_point:cli']},
)
