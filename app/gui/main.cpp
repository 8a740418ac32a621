// attnscope GUI entry point: `attnscope` opens the bundled real sample, `attnscope FILE.h5` opens
// that file; `--self-test DIR` drives the app through a scripted session and writes screenshots
// and measurements to DIR (the end-to-end test runs it under xvfb-run).
#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <QMessageBox>
#include <QStatusBar>
#include <QVulkanInstance>

#include "main-window.h"
#include "self-test.h"

namespace {

// The demo LM sample when it is bundled, else MiniLM (resources/samples/README.md).
QString defaultSample() {
    const QStringList dirs = {QCoreApplication::applicationDirPath() + "/../share/attnscope/samples",
                              QString(ATTNSCOPE_SAMPLES_DIR)};
    for (const QString& dir : dirs)
        for (const char* name : {"demo-lm-512.h5", "minilm-l6-gettysburg.h5"})
            if (QFileInfo::exists(dir + "/" + name)) return QDir(dir).absoluteFilePath(name);
    return {};
}

}  // namespace

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QCoreApplication::setOrganizationName("AttnScope");
    QCoreApplication::setApplicationName("AttnScope");
    QCoreApplication::setApplicationVersion(ATTNSCOPE_VERSION_STRING);

    QCommandLineParser parser;
    parser.setApplicationDescription("Transformer attention analysis");
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument("file", "capture (.h5) to open; default: the bundled sample");
    QCommandLineOption selfTest("self-test", "drive a scripted session, write screenshots and timings to DIR", "DIR");
    QCommandLineOption backend("backend", "compute backend: auto, cpu or cuda", "NAME", "auto");
    parser.addOption(selfTest);
    parser.addOption(backend);
    parser.process(app);

    QString path = parser.positionalArguments().value(0);
    if (path.isEmpty()) path = defaultSample();

    QVulkanInstance instance;
    instance.setApiVersion(QVersionNumber(1, 1));
    if (!instance.create()) {
        QMessageBox::critical(nullptr, "AttnScope",
                              QString("Vulkan is not available (%1). AttnScope draws its maps with Vulkan: install a "
                                      "Vulkan driver (e.g. mesa-vulkan-drivers) and run on a display. "
                                      "attnscope-cli works without one.")
                                  .arg(instance.errorCode()));
        return 2;
    }

    int status = 0;
    {
        attnscope::views::ComputeSession session(parser.value(backend).toStdString());
        attnscope::app::MainWindow window(&session);
        window.mapWindow()->setVulkanInstance(&instance);
        std::unique_ptr<attnscope::app::SelfTest> test;
        if (parser.isSet(selfTest)) {
            window.setDialogsEnabled(false);
            window.resize(1400, 900);
            test = std::make_unique<attnscope::app::SelfTest>(&window, parser.value(selfTest), path);
        }
        window.show();
        if (!path.isEmpty()) window.UI_openFile(path);
        else if (!test) window.statusBar()->showMessage("No bundled sample found: use File > Open", 10000);
        if (test) test->start();
        status = app.exec();
        if (test) status = test->exitCode();
        // Destroy the Vulkan window before the instance goes (STACK.md §3 pitfall 4).
        window.mapWindow()->destroy();
    }
    return status;
}
