#!/usr/bin/env python3
"""How far PyTorch's own bf16 resnet18 training step is from its f32 step, per gradient tensor
(relative L2), at the shapes of tests/cuda/resnet_step_test.cpp: the basis of that test's bf16
tolerances. Runs on the CPU (any PyTorch with torchvision, e.g. Debian's python3-torchvision).
    python3 scripts/bf16_gradient_error_torch.py
"""
import copy

import torch
import torchvision


def gradients(model, images, labels):
    model.zero_grad()
    logits = model(images)
    torch.nn.functional.cross_entropy(logits.float(), labels).backward()
    return logits.float().detach(), {n: p.grad.float() for n, p in model.named_parameters()}


def main():
    torch.manual_seed(0)
    for size, batch in [(64, 8), (32, 8)]:
        model = torchvision.models.resnet18(num_classes=4).train()
        images = torch.rand(batch, 3, size, size) * 4 - 2
        labels = torch.tensor([3, 1, 0, 2, 1, 1, 2, 0])
        logits32, g32 = gradients(copy.deepcopy(model), images, labels)
        logits16, g16 = gradients(copy.deepcopy(model).to(torch.bfloat16),
                                  images.to(torch.bfloat16), labels)

        def rel(a, b):
            return ((a - b).norm() / b.norm()).item()

        below_fc = [rel(g16[n], g32[n]) for n in g32 if not n.startswith("fc.")]
        print(f"resnet18 {size} px, batch {batch}, bf16 vs f32: logits {rel(logits16, logits32):.3f}, "
              f"gradients below fc {min(below_fc):.2f} to {max(below_fc):.2f}, "
              f"fc.weight {rel(g16['fc.weight'], g32['fc.weight']):.3f}, "
              f"fc.bias {rel(g16['fc.bias'], g32['fc.bias']):.3f}")


if __name__ == "__main__":
    main()
