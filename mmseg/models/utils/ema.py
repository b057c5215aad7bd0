"""Exponential moving average (EMA) teacher weights (docs/REFERENCE.md §3.3 step 1, Mean Teacher)."""
import torch

__all__ = ['ema_alpha', 'copy_weights', 'update_ema_weights']


def ema_alpha(iteration, alpha):
    """The EMA factor with warm-up: a = min(1 - 1/(iter + 1), alpha) (0 at iteration 0)."""
    return min(1 - 1 / (iteration + 1), alpha)


@torch.no_grad()
def copy_weights(teacher, student):
    """Copy the student's parameters into the teacher (buffers untouched); teacher is frozen."""
    student_params = list(student.parameters())
    teacher_params = list(teacher.parameters())
    _check_same_layout(teacher_params, student_params)
    for teacher_param, student_param in zip(teacher_params, student_params):
        teacher_param.copy_(student_param.detach())
        teacher_param.requires_grad_(False)


@torch.no_grad()
def update_ema_weights(teacher, student, iteration, alpha):
    """teacher = a * teacher + (1 - a) * student for every parameter, a = ema_alpha(iteration).

    Iteration 0 copies the student (a = 0). BatchNorm statistics and other buffers are not
    touched: the teacher keeps its own running statistics, as in the original. The update runs
    as two multi-tensor (``torch._foreach_*``) kernels over all parameters instead of two
    kernels per parameter (the same arithmetic per element, so the same numbers).
    """
    if iteration == 0:
        copy_weights(teacher, student)
        return
    a = ema_alpha(iteration, alpha)
    student_params = list(student.parameters())
    teacher_params = list(teacher.parameters())
    _check_same_layout(teacher_params, student_params)
    torch._foreach_mul_(teacher_params, a)
    torch._foreach_add_(teacher_params, [p.detach() for p in student_params], alpha=1 - a)
    for teacher_param in teacher_params:
        teacher_param.requires_grad_(False)


def _check_same_layout(teacher_params, student_params):
    if len(teacher_params) != len(student_params):
        raise ValueError(f'EMA teacher has {len(teacher_params)} parameters but the student has '
                         f'{len(student_params)}: both must be built from the same model config')
    for index, (t, s) in enumerate(zip(teacher_params, student_params)):
        if t.shape != s.shape:
            raise ValueError(f'EMA teacher parameter {index} has shape {tuple(t.shape)} but the '
                             f'student has {tuple(s.shape)}: both must be built from the same '
                             'model config')
