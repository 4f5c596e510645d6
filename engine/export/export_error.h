#pragma once
// The error of `trainer export`: an unsupported layer, option or opset, or an exporter built
// without ONNX. The message names the layer (or option) and says what would work.
#include "engine/core/error.h"

namespace te {

class ExportError : public Error { using Error::Error; };

}  // namespace te
