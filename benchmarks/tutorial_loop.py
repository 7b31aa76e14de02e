"""The tutorial's training loop, as written there: DataLoader + ToTensor + Normalize, fp32, num_workers=2.

Baseline for `python -m simplecnn bench`: one epoch on the first N training images, then the tutorial's
evaluation on the test set. Prints one JSON line: {"train_seconds", "eval_seconds", "images_per_second", ...}.
"""
import argparse
import json
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.optim as optim
from torch.utils.data import DataLoader, Subset
from torchvision import datasets, transforms

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from simplecnn.model import SimpleCNN  # noqa: E402  (the tutorial's class, same layers)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=12800)
    parser.add_argument("--limit-test", type=int, default=0)
    parser.add_argument("--data", default=os.environ.get("SIMPLECNN_DATA", "./data"))
    args = parser.parse_args()
    torch.manual_seed(42)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    train_dataset = datasets.MNIST(root=args.data, train=True, download=False, transform=transform)
    test_dataset = datasets.MNIST(root=args.data, train=False, download=False, transform=transform)
    train_dataset = Subset(train_dataset, range(args.images))
    if args.limit_test:
        test_dataset = Subset(test_dataset, range(args.limit_test))
    pin = device.type == "cuda"
    train_loader = DataLoader(train_dataset, batch_size=128, shuffle=True, num_workers=2, pin_memory=pin)
    test_loader = DataLoader(test_dataset, batch_size=128, shuffle=False, num_workers=2, pin_memory=pin)
    model = SimpleCNN().to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=0.001)

    t0 = time.perf_counter()
    model.train()
    correct = total = 0
    for data, target in train_loader:
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = criterion(output, target)
        loss.backward()
        optimizer.step()
        _, predicted = torch.max(output.data, 1)
        total += target.size(0)
        correct += (predicted == target).sum().item()
    t1 = time.perf_counter()
    model.eval()
    test_correct = test_total = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            _, predicted = torch.max(model(data).data, 1)
            test_total += target.size(0)
            test_correct += (predicted == target).sum().item()
    t2 = time.perf_counter()
    print(json.dumps({"train_seconds": t1 - t0, "eval_seconds": t2 - t1, "images_per_second": total / (t1 - t0),
                      "train_accuracy": correct / total, "test_accuracy": test_correct / test_total,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
