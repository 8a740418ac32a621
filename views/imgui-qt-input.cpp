// Qt -> ImGuiIO translation. Qt key codes are large (0x01000000+), so special keys get indices
// 256.. in io.KeysDown; printable keys use their Latin-1 code.
#include "imgui-qt-input.h"

#include <QKeyEvent>
#include <QMouseEvent>
#include <QWheelEvent>
#include <imgui.h>

namespace attnscope::views {

namespace {
struct KeyPair {
    int qt;
    ImGuiKey imgui;
};
const KeyPair kSpecialKeys[] = {
    {Qt::Key_Tab, ImGuiKey_Tab},         {Qt::Key_Left, ImGuiKey_LeftArrow},  {Qt::Key_Right, ImGuiKey_RightArrow},
    {Qt::Key_Up, ImGuiKey_UpArrow},      {Qt::Key_Down, ImGuiKey_DownArrow},  {Qt::Key_PageUp, ImGuiKey_PageUp},
    {Qt::Key_PageDown, ImGuiKey_PageDown}, {Qt::Key_Home, ImGuiKey_Home},     {Qt::Key_End, ImGuiKey_End},
    {Qt::Key_Insert, ImGuiKey_Insert},   {Qt::Key_Delete, ImGuiKey_Delete},   {Qt::Key_Backspace, ImGuiKey_Backspace},
    {Qt::Key_Space, ImGuiKey_Space},     {Qt::Key_Return, ImGuiKey_Enter},    {Qt::Key_Escape, ImGuiKey_Escape},
    {Qt::Key_Enter, ImGuiKey_KeyPadEnter},
};

int keyIndex(int qtKey) {
    int i = 0;
    for (const KeyPair& k : kSpecialKeys) {
        if (k.qt == qtKey) return 256 + i;
        ++i;
    }
    if (qtKey >= 0 && qtKey < 256) return qtKey;
    return -1;
}

int buttonIndex(Qt::MouseButton button) {
    switch (button) {
        case Qt::LeftButton: return 0;
        case Qt::RightButton: return 1;
        case Qt::MiddleButton: return 2;
        default: return -1;
    }
}
}  // namespace

void setupImGuiKeyMap() {
    ImGuiIO& io = ImGui::GetIO();
    int i = 0;
    for (const KeyPair& k : kSpecialKeys) io.KeyMap[k.imgui] = 256 + i++;
    io.KeyMap[ImGuiKey_A] = 'A';
    io.KeyMap[ImGuiKey_C] = 'C';
    io.KeyMap[ImGuiKey_V] = 'V';
    io.KeyMap[ImGuiKey_X] = 'X';
    io.KeyMap[ImGuiKey_Y] = 'Y';
    io.KeyMap[ImGuiKey_Z] = 'Z';
}

void forwardMouseMove(QMouseEvent* event) {
    ImGui::GetIO().MousePos = ImVec2(static_cast<float>(event->position().x()), static_cast<float>(event->position().y()));
}

void forwardMouseButton(QMouseEvent* event, bool down) {
    forwardMouseMove(event);
    const int b = buttonIndex(event->button());
    if (b >= 0) ImGui::GetIO().MouseDown[b] = down;
}

void forwardWheel(QWheelEvent* event) {
    ImGuiIO& io = ImGui::GetIO();
    io.MouseWheel += static_cast<float>(event->angleDelta().y()) / 120.0f;
    io.MouseWheelH += static_cast<float>(event->angleDelta().x()) / 120.0f;
}

void forwardKey(QKeyEvent* event, bool down) {
    ImGuiIO& io = ImGui::GetIO();
    const int index = keyIndex(event->key());
    if (index >= 0 && index < static_cast<int>(IM_ARRAYSIZE(io.KeysDown))) io.KeysDown[index] = down;
    io.KeyCtrl = event->modifiers() & Qt::ControlModifier;
    io.KeyShift = event->modifiers() & Qt::ShiftModifier;
    io.KeyAlt = event->modifiers() & Qt::AltModifier;
    if (down && !event->text().isEmpty()) io.AddInputCharactersUTF8(event->text().toUtf8().constData());
}

}  // namespace attnscope::views
