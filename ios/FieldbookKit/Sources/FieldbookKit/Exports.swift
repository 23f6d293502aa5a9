// The app imports FieldbookKit alone and sees the generated record types through it.
@_exported import FieldbookFFI
