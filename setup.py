"""Install mic-seg (package ``mmseg``); run ``make install`` for the pinned stack."""
from setuptools import find_packages, setup


def read_version():
    scope = {}
    with open('mmseg/version.py') as f:
        exec(f.read(), scope)
    return scope['__version__']


def read_requirements():
    with open('requirements.txt') as f:
        return [ln.strip() for ln in f if ln.strip() and not ln.startswith('#')
                and not ln.startswith('pytest')]


setup(
    name='mic-seg',
    version=read_version(),
    description='Domain-adaptive semantic segmentation: MIC, HRDA and DAFormer on mmcv 1.x',
    long_description=open('README.md').read() if __import__('os').path.exists('README.md') else '',
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mmseg', 'mmseg.*']),
    python_requires='>=3.11',
    install_requires=read_requirements(),
    license='Apache-2.0',
)
