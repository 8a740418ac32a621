// The variant panel: choose a variant from variantRegistry(), edit its parameters with widgets
// generated from its ParamSpec declarations, choose what the map shows (mask overlay, variant
// weights, difference, dropped mass; optional split view), and read the live metrics of the
// current head (computed by Backend::evaluateVariant on the compute thread).
#pragma once

#include <QWidget>

#include <string>
#include <vector>

#include "compute-session.h"
#include "map-window.h"

class QComboBox;
class QCheckBox;
class QFormLayout;
class QLabel;

namespace attnscope::views {

class VariantPanel : public QWidget {
    Q_OBJECT
public:
    explicit VariantPanel(QWidget* parent = nullptr);

    VariantSelection selection() const;
    std::string displayName() const;
    MapMode mode() const;
    bool split() const;
    // Self-test and settings: select by id ("" = none), set the map mode and split.
    bool UI_selectVariant(const std::string& id);
    void UI_setMode(MapMode mode);
    void UI_setSplit(bool split);

    void UI_showMetrics(const VariantResult& result);
    void UI_clearMetrics(const QString& why);

signals:
    void variantChanged();
    void displayChanged();

private:
    void rebuildParams();

    QComboBox* m_variant;
    QLabel* m_citation;
    QFormLayout* m_params;
    QWidget* m_paramBox;
    std::vector<std::pair<std::string, QWidget*>> m_paramWidgets;
    QComboBox* m_mode;
    QCheckBox* m_split;
    QLabel* m_metrics;
};

}  // namespace attnscope::views
