module github.com/shearsml/shears

go 1.26

require google.golang.org/protobuf v1.36.12

require github.com/yalue/onnxruntime_go v1.27.0

require go.yaml.in/yaml/v3 v3.0.6
