// The model browser and overview: a layer x head matrix, each cell colored by the chosen metric
// (sink mass, mean entropy, recall or output error of the selected variant at a density) as the
// compute thread delivers it. Clicking a cell opens that head in the map view. QPainter drawing only.
#pragma once

#include <QWidget>

#include <vector>

namespace attnscope::views {

class OverviewGridWidget : public QWidget {
    Q_OBJECT
public:
    explicit OverviewGridWidget(QWidget* parent = nullptr);

    void UI_setShape(int layers, int heads);
    void UI_setMetricName(const QString& name, bool higherIsWorse);
    void UI_clearValues();
    void UI_setValue(int layer, int head, double value);
    void UI_setCurrent(int layer, int head);
    int layers() const { return m_layers; }
    int heads() const { return m_heads; }
    double value(int layer, int head) const { return m_values[static_cast<size_t>(layer) * m_heads + head]; }
    int computedCount() const;
    QString metricName() const { return m_metric; }
    // "layer,head,<metric>" rows; empty cells are "nan".
    QString toCsv() const;
    QRect cellRect(int layer, int head) const;

    QSize sizeHint() const override { return {320, 260}; }

signals:
    void headClicked(int layer, int head);

protected:
    void paintEvent(QPaintEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    bool event(QEvent* event) override;

private:
    bool cellAt(QPoint p, int& layer, int& head) const;

    int m_layers = 0, m_heads = 0;
    std::vector<double> m_values;
    QString m_metric;
    bool m_higherIsWorse = false;
    int m_currentLayer = -1, m_currentHead = -1;
};

}  // namespace attnscope::views
