// All figure types in one include: LinePlot, Heatmap, BarChart, PlotGrid and ImageGrid, rendered
// by gnuplot to PNG (and optionally SVG). Common settings (title, labels, size, svg) are in figure.hpp.
#pragma once

#include "explaind/report/bar_chart.hpp"
#include "explaind/report/figure.hpp"
#include "explaind/report/heatmap.hpp"
#include "explaind/report/image_grid.hpp"
#include "explaind/report/line_plot.hpp"
#include "explaind/report/plot_grid.hpp"
