// Forwards Qt input events to Dear ImGui 1.86 through its legacy IO fields (io.MousePos,
// io.MouseDown, io.KeysDown with io.KeyMap): Debian's imgui predates the 1.87 event API and has no
// Qt backend.
#pragma once

class QMouseEvent;
class QWheelEvent;
class QKeyEvent;

namespace attnscope::views {

// Call once after ImGui::CreateContext(): fills io.KeyMap with our key indices.
void setupImGuiKeyMap();
void forwardMouseMove(QMouseEvent* event);
void forwardMouseButton(QMouseEvent* event, bool down);
void forwardWheel(QWheelEvent* event);
void forwardKey(QKeyEvent* event, bool down);

}  // namespace attnscope::views
