-- This installation's id. Slipway labels the containers it runs with it, so two installations
-- sharing one Docker engine never count, retire or tear down each other's containers.
CREATE TABLE installation (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    id        uuid    NOT NULL DEFAULT gen_random_uuid()
);
INSERT INTO installation DEFAULT VALUES;
