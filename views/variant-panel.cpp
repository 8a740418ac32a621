// Widgets generated from ParamSpec: Integer -> QSpinBox, Real -> QDoubleSpinBox, with the spec's
// range, default and description as tooltip.
#include "variant-panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QLabel>
#include <QSpinBox>
#include <QVBoxLayout>

#include "attnscope/variant.h"

namespace attnscope::views {

VariantPanel::VariantPanel(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    m_variant = new QComboBox(this);
    m_variant->setObjectName("variantCombo");
    m_variant->addItem("(none: dense only)", QString());
    for (const auto& v : variantRegistry())
        m_variant->addItem(QString::fromStdString(v->displayName()), QString::fromStdString(v->id()));
    layout->addWidget(new QLabel("Variant", this));
    layout->addWidget(m_variant);
    m_citation = new QLabel(this);
    m_citation->setWordWrap(true);
    m_citation->setStyleSheet("color: gray; font-size: small;");
    layout->addWidget(m_citation);
    m_paramBox = new QWidget(this);
    m_params = new QFormLayout(m_paramBox);
    m_params->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_paramBox);

    m_mode = new QComboBox(this);
    m_mode->setObjectName("modeCombo");
    for (MapMode mode : {MapMode::Dense, MapMode::MaskOverlay, MapMode::VariantWeight, MapMode::Difference,
                         MapMode::DroppedMass})
        m_mode->addItem(mapModeName(mode), static_cast<int>(mode));
    layout->addWidget(new QLabel("Map shows", this));
    layout->addWidget(m_mode);
    m_split = new QCheckBox("Split view: dense | variant", this);
    layout->addWidget(m_split);
    m_metrics = new QLabel(this);
    m_metrics->setObjectName("variantMetrics");
    m_metrics->setTextFormat(Qt::RichText);
    m_metrics->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(m_metrics);
    layout->addStretch(1);

    connect(m_variant, &QComboBox::currentIndexChanged, this, [this] {
        rebuildParams();
        emit variantChanged();
    });
    connect(m_mode, &QComboBox::currentIndexChanged, this, [this] { emit displayChanged(); });
    connect(m_split, &QCheckBox::toggled, this, [this] { emit displayChanged(); });
    rebuildParams();
}

void VariantPanel::rebuildParams() {
    while (m_params->rowCount() > 0) m_params->removeRow(0);
    m_paramWidgets.clear();
    const Variant* v = findVariant(m_variant->currentData().toString().toStdString());
    m_citation->setText(v ? QString::fromStdString(v->citation()) : QString("Dense softmax attention only."));
    if (!v) {
        UI_clearMetrics("Choose a variant to compare it with dense attention.");
        return;
    }
    for (const ParamSpec& spec : v->parameters()) {
        QWidget* widget = nullptr;
        if (spec.type == ParamType::Integer) {
            auto* box = new QSpinBox(m_paramBox);
            box->setRange(static_cast<int>(std::max(-2e9, spec.minValue)), static_cast<int>(std::min(2e9, spec.maxValue)));
            box->setValue(static_cast<int>(spec.defaultValue));
            connect(box, &QSpinBox::valueChanged, this, [this] { emit variantChanged(); });
            widget = box;
        } else {
            auto* box = new QDoubleSpinBox(m_paramBox);
            box->setDecimals(4);
            box->setRange(spec.minValue, spec.maxValue);
            box->setSingleStep(std::max(1e-4, (spec.maxValue - spec.minValue) / 100.0));
            box->setValue(spec.defaultValue);
            connect(box, &QDoubleSpinBox::valueChanged, this, [this] { emit variantChanged(); });
            widget = box;
        }
        widget->setToolTip(QString::fromStdString(spec.description));
        widget->setObjectName(QString::fromStdString("param-" + spec.name));
        m_params->addRow(QString::fromStdString(spec.name), widget);
        m_paramWidgets.emplace_back(spec.name, widget);
    }
    UI_clearMetrics("computing...");
}

VariantSelection VariantPanel::selection() const {
    VariantSelection s;
    s.id = m_variant->currentData().toString().toStdString();
    for (const auto& [name, widget] : m_paramWidgets) {
        if (auto* i = qobject_cast<QSpinBox*>(widget)) s.params[name] = i->value();
        if (auto* d = qobject_cast<QDoubleSpinBox*>(widget)) s.params[name] = d->value();
    }
    return s;
}

std::string VariantPanel::displayName() const {
    const Variant* v = findVariant(m_variant->currentData().toString().toStdString());
    return v ? v->displayName() : std::string("dense");
}

MapMode VariantPanel::mode() const { return static_cast<MapMode>(m_mode->currentData().toInt()); }
bool VariantPanel::split() const { return m_split->isChecked(); }

bool VariantPanel::UI_selectVariant(const std::string& id) {
    const int index = m_variant->findData(QString::fromStdString(id));
    if (index < 0) return false;
    m_variant->setCurrentIndex(index);
    return true;
}

void VariantPanel::UI_setMode(MapMode mode) { m_mode->setCurrentIndex(m_mode->findData(static_cast<int>(mode))); }
void VariantPanel::UI_setSplit(bool split) { m_split->setChecked(split); }

void VariantPanel::UI_showMetrics(const VariantResult& r) {
    const VariantMetrics& m = r.metrics;
    m_metrics->setText(QString("<b>L%1 H%2</b><br>density <b>%3</b> (%4 of %5 cells)<br>recall <b>%6</b> "
                               "(oracle top-k at this budget %7)<br>output error <b>%8</b><br>"
                               "Jaccard with oracle %9<br><span style='color:gray'>%10 ms</span>")
                           .arg(r.layer)
                           .arg(r.head)
                           .arg(m.density, 0, 'f', 4)
                           .arg(m.keptCells)
                           .arg(m.visibleCells)
                           .arg(m.recall, 0, 'f', 4)
                           .arg(m.oracleRecall, 0, 'f', 4)
                           .arg(m.outputError, 0, 'g', 4)
                           .arg(m.oracleJaccard, 0, 'f', 4)
                           .arg(r.millis, 0, 'f', 1));
}

void VariantPanel::UI_clearMetrics(const QString& why) { m_metrics->setText("<span style='color:gray'>" + why + "</span>"); }

}  // namespace attnscope::views
