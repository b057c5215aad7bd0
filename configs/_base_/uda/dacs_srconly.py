# Source-only training through the DACS wrapper (MIC can still mask the source images).
_base_ = ['dacs.py']
uda = dict(source_only=True, )
