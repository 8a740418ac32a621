// Overview grid painting: viridis over [min, max] of the computed cells (core colormap, so it
// matches the map's colors); NaN cells (not computed yet) are gray.
#include "overview-grid-widget.h"

#include <QHelpEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>

#include <algorithm>
#include <cmath>
#include <limits>

#include "attnscope/colormap.h"

namespace attnscope::views {

namespace {
constexpr int kLabelLeft = 30, kLabelTop = 16;
}

OverviewGridWidget::OverviewGridWidget(QWidget* parent) : QWidget(parent) {
    setMinimumSize(160, 120);
    setMouseTracking(true);
}

void OverviewGridWidget::UI_setShape(int layers, int heads) {
    m_layers = layers;
    m_heads = heads;
    m_values.assign(static_cast<size_t>(layers) * heads, std::numeric_limits<double>::quiet_NaN());
    update();
}

void OverviewGridWidget::UI_setMetricName(const QString& name, bool higherIsWorse) {
    m_metric = name;
    m_higherIsWorse = higherIsWorse;
    update();
}

void OverviewGridWidget::UI_clearValues() {
    std::fill(m_values.begin(), m_values.end(), std::numeric_limits<double>::quiet_NaN());
    update();
}

void OverviewGridWidget::UI_setValue(int layer, int head, double value) {
    if (layer < 0 || head < 0 || layer >= m_layers || head >= m_heads) return;
    m_values[static_cast<size_t>(layer) * m_heads + head] = value;
    update();
}

void OverviewGridWidget::UI_setCurrent(int layer, int head) {
    m_currentLayer = layer;
    m_currentHead = head;
    update();
}

int OverviewGridWidget::computedCount() const {
    return static_cast<int>(std::count_if(m_values.begin(), m_values.end(), [](double v) { return !std::isnan(v); }));
}

QString OverviewGridWidget::toCsv() const {
    QString csv = "layer,head," + QString(m_metric).replace(',', ';') + "\n";
    for (int l = 0; l < m_layers; ++l)
        for (int h = 0; h < m_heads; ++h) {
            const double v = value(l, h);
            csv += QString("%1,%2,%3\n").arg(l).arg(h).arg(std::isnan(v) ? QString("nan") : QString::number(v, 'g', 9));
        }
    return csv;
}

QRect OverviewGridWidget::cellRect(int layer, int head) const {
    if (m_layers <= 0 || m_heads <= 0) return {};
    const double cw = static_cast<double>(width() - kLabelLeft - 2) / m_heads;
    const double ch = static_cast<double>(height() - kLabelTop - 2) / m_layers;
    return QRect(kLabelLeft + static_cast<int>(head * cw), kLabelTop + static_cast<int>(layer * ch),
                 std::max(1, static_cast<int>((head + 1) * cw) - static_cast<int>(head * cw)),
                 std::max(1, static_cast<int>((layer + 1) * ch) - static_cast<int>(layer * ch)));
}

bool OverviewGridWidget::cellAt(QPoint p, int& layer, int& head) const {
    for (layer = 0; layer < m_layers; ++layer)
        for (head = 0; head < m_heads; ++head)
            if (cellRect(layer, head).contains(p)) return true;
    return false;
}

void OverviewGridWidget::paintEvent(QPaintEvent*) {
    QPainter painter(this);
    painter.fillRect(rect(), palette().window());
    if (m_layers <= 0) {
        painter.drawText(rect(), Qt::AlignCenter, "No capture open");
        return;
    }
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (double v : m_values)
        if (!std::isnan(v)) {
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
    QFont font = painter.font();
    font.setPointSizeF(std::max(6.0, font.pointSizeF() * 0.8));
    painter.setFont(font);
    for (int l = 0; l < m_layers; ++l) {
        const QRect r = cellRect(l, 0);
        painter.drawText(QRect(0, r.y(), kLabelLeft - 3, r.height()), Qt::AlignRight | Qt::AlignVCenter,
                         QString("L%1").arg(l));
        for (int h = 0; h < m_heads; ++h) {
            const QRect c = cellRect(l, h);
            const double v = value(l, h);
            QColor color(90, 90, 90);
            if (!std::isnan(v)) {
                const double t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
                const Rgb rgb = colormapColor(ColormapName::Viridis, t);
                color = QColor(rgb[0], rgb[1], rgb[2]);
            }
            painter.fillRect(c.adjusted(0, 0, -1, -1), color);
        }
    }
    for (int h = 0; h < m_heads; ++h) {
        const QRect c = cellRect(0, h);
        if (m_heads <= 16 || h % 4 == 0)
            painter.drawText(QRect(c.x(), 0, c.width() * 2, kLabelTop), Qt::AlignLeft | Qt::AlignVCenter,
                             QString("H%1").arg(h));
    }
    if (m_currentLayer >= 0) {
        painter.setPen(QPen(Qt::red, 2));
        painter.drawRect(cellRect(m_currentLayer, m_currentHead).adjusted(1, 1, -2, -2));
    }
}

void OverviewGridWidget::mousePressEvent(QMouseEvent* event) {
    int layer = 0, head = 0;
    if (event->button() == Qt::LeftButton && cellAt(event->position().toPoint(), layer, head))
        emit headClicked(layer, head);
}

bool OverviewGridWidget::event(QEvent* event) {
    if (event->type() == QEvent::ToolTip) {
        auto* help = static_cast<QHelpEvent*>(event);
        int layer = 0, head = 0;
        if (cellAt(help->pos(), layer, head)) {
            const double v = value(layer, head);
            QToolTip::showText(help->globalPos(), QString("layer %1, head %2\n%3: %4")
                                                      .arg(layer)
                                                      .arg(head)
                                                      .arg(m_metric)
                                                      .arg(std::isnan(v) ? QString("not computed") : QString::number(v, 'g', 5)));
        } else {
            QToolTip::hideText();
        }
        return true;
    }
    return QWidget::event(event);
}

}  // namespace attnscope::views
