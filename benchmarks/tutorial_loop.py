"""The tutorial's training loop, as written there: its SimpleCNN class, DataLoader + ToTensor + Normalize,
fp32, num_workers=2, pin_memory=True, its train_one_epoch and evaluate (loss.item() per batch).

Baseline for `python -m simplecnn bench`: one epoch on the first N training images, then the tutorial's
evaluation on the test set. Prints one JSON line: {"train_seconds", "eval_seconds", "images_per_second", ...}.
The model is the tutorial's own class (from tutorial_evaluate.py), sharing nothing with simplecnn/: our engine
swaps in a faster training forward (simplecnn/perf/layers.py), and the baseline must not get it for free.
"""

import argparse
import json
import os
import resource
import time
import warnings

import torch
import torch.nn as nn
import torch.optim as optim
from torch.utils.data import DataLoader, Subset
from torchvision import datasets, transforms

# The tutorial's class and evaluate(), as written there (one copy, shared with the checkpoint check).
from tutorial_evaluate import SimpleCNN, evaluate


def train_one_epoch(model, train_loader, criterion, optimizer, device):
    model.train()
    running_loss = 0.0
    correct = 0
    total = 0
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = criterion(output, target)
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
        _, predicted = torch.max(output.data, 1)
        total += target.size(0)
        correct += (predicted == target).sum().item()
    return running_loss / len(train_loader), 100.0 * correct / total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=12800)
    parser.add_argument("--limit-test", type=int, default=0)
    parser.add_argument("--data", default=os.environ.get("SIMPLECNN_DATA", "./data"))
    args = parser.parse_args()
    # pin_memory=True on a machine without an accelerator only warns; the tutorial sets it regardless.
    warnings.filterwarnings("ignore", message=".*pin_memory.*")
    torch.manual_seed(42)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    train_dataset = datasets.MNIST(root=args.data, train=True, download=False, transform=transform)
    test_dataset = datasets.MNIST(root=args.data, train=False, download=False, transform=transform)
    train_dataset = Subset(train_dataset, range(args.images))
    if args.limit_test:
        test_dataset = Subset(test_dataset, range(args.limit_test))
    train_loader = DataLoader(train_dataset, batch_size=128, shuffle=True, num_workers=2, pin_memory=True)
    test_loader = DataLoader(test_dataset, batch_size=128, shuffle=False, num_workers=2, pin_memory=True)
    model = SimpleCNN().to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=0.001)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=5, gamma=0.5)

    t0 = time.perf_counter()
    train_loss, train_acc = train_one_epoch(model, train_loader, criterion, optimizer, device)
    t1 = time.perf_counter()
    test_loss, test_acc = evaluate(model, test_loader, criterion, device)
    scheduler.step()
    t2 = time.perf_counter()
    print(
        json.dumps(
            {
                "train_seconds": t1 - t0,
                "eval_seconds": t2 - t1,
                "images_per_second": args.images / (t1 - t0),
                "train_accuracy": train_acc / 100,
                "test_accuracy": test_acc / 100,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
