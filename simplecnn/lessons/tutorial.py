"""What the tutorial's text claims, as data, so each lesson can show its own measurement beside it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TutorialRow:
    """One column of the tutorial's "LeNet-5 (Keras) vs SimpleCNN (PyTorch)" table."""

    accuracy: float
    parameters: int  # as the text rounds it ("~60K", "~140K")
    minutes: tuple[int, int]  # training time, as a range


COMPARISON = {
    "lenet5": TutorialRow(accuracy=0.9876, parameters=60_000, minutes=(2, 3)),
    "simplecnn": TutorialRow(accuracy=0.9940, parameters=140_000, minutes=(3, 5)),
}
SIMPLECNN_PARAMETERS_CLAIM = 140_000  # "~140K" (the code it prints gives 467,818)
NO_GRAD_MEMORY_MB = (800, 300)  # "有 gradient:約 800MB … 無 gradient:約 300MB" (GPU, 10,000 test images)
ZERO_GRAD_EXAMPLE = (0.015, 0.030, 0.045)  # conv1.weight.grad[0,0,0,0] over three passes without zero_grad


# The tutorial's own code for each lesson, verbatim (its comments are the tutorial's), shown beside the result.
SNIPPETS = {
    "padding": """self.conv1 = nn.Conv2d(1, 32, kernel_size=3, padding=1)

# 輸出尺寸 = (輸入尺寸 - 卷積核大小 + 2×padding) / stride + 1
# (28 - 3 + 2×1) / 1 + 1 = 28""",
    "count_parameters": """def count_parameters(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

total_params = count_parameters(model)
print(f"總參數量: {total_params:,}")""",
    "modes": """# ❌ 錯誤:評估時忘記設為 eval()
model.train()  # Dropout 會隨機丟棄神經元
test_acc = evaluate(model, test_loader)  # 準確率會偏低!

# ✅ 正確
model.eval()
test_acc = evaluate(model, test_loader)""",
    "no_grad": """with torch.no_grad():  # 不計算梯度(節省記憶體、加速)
    for data, target in test_loader:
        output = model(data)""",
    "cross_entropy": """criterion = nn.CrossEntropyLoss()
loss = criterion(output, target)
# PyTorch 的 CrossEntropyLoss = LogSoftmax + NLLLoss""",
    "softmax_at_end": """# ✅ 正確
def forward(self, x):
    x = self.fc2(x)
    return x  # 直接返回 logits

# ❌ 錯誤(會導致數值不穩定)
def forward(self, x):
    x = self.fc2(x)
    return F.softmax(x, dim=1)  # 不需要!""",
    "zero_grad": """# 範例:如果不清空梯度
for epoch in range(3):
    loss.backward()
    # 忘記 zero_grad()
    print(model.conv1.weight.grad[0,0,0,0])
# Epoch 1: 0.015
# Epoch 2: 0.030 ← 累積了!
# Epoch 3: 0.045 ← 繼續累積!""",
    "training_loop": """for batch_x, batch_y in train_loader:
    # 1. 清空梯度
    optimizer.zero_grad()
    # 2. 前向傳播
    output = model(batch_x)
    # 3. 計算損失
    loss = criterion(output, batch_y)
    # 4. 反向傳播
    loss.backward()
    # 5. 更新參數
    optimizer.step()""",
    "one_hot": """# ✅ 正確:標籤為類別索引
target = torch.tensor([3, 1, 0, 5])  # 形狀: (4,)
loss = criterion(output, target)

# ❌ 錯誤:標籤為 One-Hot
target = torch.tensor([[0,0,0,1,...], [0,1,0,0,...], ...])  # 形狀: (4, 10)
loss = criterion(output, target)  # 會報錯或結果錯誤""",
    "device": """# ❌ 錯誤:資料和模型在不同裝置
model = model.to('cuda')
output = model(data)  # data 還在 CPU

# ✅ 正確:統一移至 GPU
data = data.to(device)
model = model.to(device)
output = model(data)""",
    "overfitting": """# 1. 增加 Dropout:從 0.25 提高到 0.3-0.4
# 2. 資料增強:旋轉、位移、縮放
# 3. 早停:監控 val_loss,5 個 epoch 沒改善就停止
# 4. L2 正規化:
optimizer = optim.Adam(model.parameters(), lr=0.001, weight_decay=1e-4)""",
    "lenet5": """| 指標     | LeNet-5 (Keras) | SimpleCNN (PyTorch) |
|----------|-----------------|---------------------|
| 準確率   | 98.76%          | 99.40%              |
| 訓練時間 | 2-3 分鐘        | 3-5 分鐘            |
| 參數量   | ~60K            | ~140K               |""",
    "layouts": """# Keras
X_train.shape  # (60000, 28, 28, 1)
# PyTorch
X_train.shape  # (60000, 1, 28, 28)

x = x.view(x.size(0), -1)     # PyTorch 傳統方法
x = x.reshape(x.size(0), -1)  # NumPy 風格
x = torch.flatten(x, 1)       # 從第 1 維開始展平""",
}
