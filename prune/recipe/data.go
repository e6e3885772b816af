package recipe

import "github.com/shearsml/shears/data"

// LoadData loads the recipe's data set (data.name, data.dir), both
// splits, each cut to data.limit images. No name loads nothing: both are
// nil. An unknown name is a *FieldError for data.name.
func LoadData(d DataSpec) (trainSet, testSet *data.Dataset, err error) {
	if d.Name == "" {
		return nil, nil, nil
	}
	if _, err := data.Canonical(d.Name); err != nil {
		return nil, nil, &FieldError{Path: "data.name", Err: err}
	}
	if trainSet, err = data.Load(d.Name, d.Dir, data.Train); err != nil {
		return nil, nil, err
	}
	if testSet, err = data.Load(d.Name, d.Dir, data.Test); err != nil {
		return nil, nil, err
	}
	return trainSet.Limit(d.Limit), testSet.Limit(d.Limit), nil
}
