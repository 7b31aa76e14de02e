"""The tutorial's SimpleCNN exactly as its text writes it (only the indentation restored), so the tests can check
that an exported state_dict loads in the learner's own class, not only in ours. Not a test file."""

import torch.nn as nn
import torch.nn.functional as F


class SimpleCNN(nn.Module):
    """
    SimpleCNN 架構
    - 4 個卷積層(兩層一組)
    - 2 個最大池化層
    - 3 個 Dropout 層(防過擬合)
    - 2 個全連接層
    """

    def __init__(self):
        super(SimpleCNN, self).__init__()  # noqa: UP008 - as the tutorial writes it
        # ===== 第一組卷積塊 =====
        # Conv1: 1 → 32 通道,3×3 卷積核,padding=1(保持尺寸)
        self.conv1 = nn.Conv2d(in_channels=1, out_channels=32, kernel_size=3, padding=1)
        # Conv2: 32 → 32 通道
        self.conv2 = nn.Conv2d(32, 32, 3, padding=1)
        # MaxPool: 28×28 → 14×14
        self.pool1 = nn.MaxPool2d(kernel_size=2, stride=2)
        # Dropout
        self.dropout1 = nn.Dropout(0.25)
        # ===== 第二組卷積塊 =====
        # Conv3: 32 → 64 通道
        self.conv3 = nn.Conv2d(32, 64, 3, padding=1)
        # Conv4: 64 → 64 通道
        self.conv4 = nn.Conv2d(64, 64, 3, padding=1)
        # MaxPool: 14×14 → 7×7
        self.pool2 = nn.MaxPool2d(2, 2)
        # Dropout
        self.dropout2 = nn.Dropout(0.25)
        # ===== 全連接層 =====
        # Flatten 後: 7×7×64 = 3136
        self.fc1 = nn.Linear(7 * 7 * 64, 128)
        self.dropout3 = nn.Dropout(0.5)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        """
        前向傳播
        輸入: (batch_size, 1, 28, 28)
        輸出: (batch_size, 10)
        """
        # 第一組卷積塊
        x = F.relu(self.conv1(x))  # (N, 32, 28, 28)
        x = F.relu(self.conv2(x))  # (N, 32, 28, 28)
        x = self.pool1(x)  # (N, 32, 14, 14)
        x = self.dropout1(x)
        # 第二組卷積塊
        x = F.relu(self.conv3(x))  # (N, 64, 14, 14)
        x = F.relu(self.conv4(x))  # (N, 64, 14, 14)
        x = self.pool2(x)  # (N, 64, 7, 7)
        x = self.dropout2(x)
        # 展平
        x = x.view(x.size(0), -1)  # (N, 3136)
        # 全連接層
        x = F.relu(self.fc1(x))  # (N, 128)
        x = self.dropout3(x)
        x = self.fc2(x)  # (N, 10)
        return x
