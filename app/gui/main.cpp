// attnscope GUI entry point. For now a shell that proves the stack links (Qt 6 widgets, Vulkan,
// Dear ImGui) and opens a capture; the map view, docks and panels come with the app issue.
#include <QApplication>
#include <QLabel>
#include <QMainWindow>
#include <QMessageBox>
#include <QVulkanInstance>
#include <imgui.h>

#include "attnscope/io/capture-reader.h"

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QMainWindow window;
    window.setWindowTitle("AttnScope");
    QString text = QString("AttnScope shell (Qt %1, Dear ImGui %2)").arg(qVersion(), IMGUI_VERSION);
    if (argc > 1) {
        try {
            const auto reader = attnscope::CaptureReader::open(argv[1]);
            const auto& info = reader.info();
            text += QString("\n%1: %2 layers x %3 heads, %4 tokens")
                        .arg(QString::fromStdString(info.model))
                        .arg(info.numLayers)
                        .arg(info.numQueryHeads)
                        .arg(info.seqLen);
        } catch (const std::exception& e) {
            QMessageBox::critical(nullptr, "AttnScope", e.what());
            return 2;
        }
    }
    window.setCentralWidget(new QLabel(text));
    window.resize(640, 360);
    window.show();
    return app.exec();
}
