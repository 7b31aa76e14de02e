"""Independent check: evaluate a checkpoint's state_dict with the tutorial's own code (its class, its
DataLoader + ToTensor + Normalize pipeline, its evaluate loop), sharing nothing with simplecnn/.

    python benchmarks/tutorial_evaluate.py checkpoints/simplecnn.pt
"""

import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torchvision import datasets, transforms


class SimpleCNN(nn.Module):  # the tutorial's class, as written there
    def __init__(self):
        super(SimpleCNN, self).__init__()
        self.conv1 = nn.Conv2d(in_channels=1, out_channels=32, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(32, 32, 3, padding=1)
        self.pool1 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.dropout1 = nn.Dropout(0.25)
        self.conv3 = nn.Conv2d(32, 64, 3, padding=1)
        self.conv4 = nn.Conv2d(64, 64, 3, padding=1)
        self.pool2 = nn.MaxPool2d(2, 2)
        self.dropout2 = nn.Dropout(0.25)
        self.fc1 = nn.Linear(7 * 7 * 64, 128)
        self.dropout3 = nn.Dropout(0.5)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = self.pool1(x)
        x = self.dropout1(x)
        x = F.relu(self.conv3(x))
        x = F.relu(self.conv4(x))
        x = self.pool2(x)
        x = self.dropout2(x)
        x = x.view(x.size(0), -1)
        x = F.relu(self.fc1(x))
        x = self.dropout3(x)
        x = self.fc2(x)
        return x


def evaluate(model, test_loader, criterion, device):  # the tutorial's evaluate()
    model.eval()
    running_loss = 0.0
    correct = 0
    total = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            loss = criterion(output, target)
            running_loss += loss.item()
            _, predicted = torch.max(output.data, 1)
            total += target.size(0)
            correct += (predicted == target).sum().item()
    return running_loss / len(test_loader), 100.0 * correct / total


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "checkpoints/simplecnn.pt"
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    test_dataset = datasets.MNIST(
        root=os.environ.get("SIMPLECNN_DATA", "./data"), train=False, download=False, transform=transform
    )
    test_loader = DataLoader(test_dataset, batch_size=128, shuffle=False)
    model = SimpleCNN().to(device)
    saved = torch.load(path, map_location=device, weights_only=True)
    model.load_state_dict(saved["state_dict"] if "state_dict" in saved else saved)
    loss, acc = evaluate(model, test_loader, nn.CrossEntropyLoss(), device)
    print(f"tutorial evaluate(): Test Loss: {loss:.4f} | Test Acc: {acc:.2f}% on {len(test_dataset)} images")


if __name__ == "__main__":
    main()
