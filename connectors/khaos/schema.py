"""Element names of the channel's documents, in one place.

The vendor's document has older examples (``ReturnItems``/``ReturnItem``,
ApiVersion 10000); its tables, and its February 2025 examples, use the names
below, which the hub follows.
"""

API_VERSION = 1000

RETURNS_ROOT = "CustomerReturnImport"
ORDERS_ROOT = "SalesOrderImport"
CONFIG_ROOT = "EndpointConfig"
ORDER_STATUS_ROOT = "OrderStatuses"

# A list of objects is a container element with one child per item, named here.
ITEM_ELEMENTS = {
    "Returns": "CustomerReturn",
    "ReturnedItems": "ReturnedItem",
    "ExchangeItems": "ExchangeItem",
    "Mapping": "ItemMapping",
    "AlternateMapping": "ItemMapping",
    "Orders": "SalesOrder",
    "Items": "OrderItem",
    "Payments": "OrderPayment",
    "DiscountCodes": "DiscountCode",
    "Statuses": "SalesOrderStatus",
    "Shipments": "Shipment",
    "Packages": "ShipmentPackage",
    "Deleted": "DeletedItem",
    "Barcodes": "StockBarcode",
}

# Lists of plain values written as an empty element when empty, because Khaos's tables
# want them present (an OrderItem's ExtendedDescription is Required): <ExtendedDescription/>.
EMPTY_WRITTEN = frozenset({"ExtendedDescription"})

# A returned item's link to its sales order is an object, written as nested elements:
# <SourceReference><SourceOrder><AssociatedRef>1001</AssociatedRef></SourceOrder>…, the
# vendor's property table's name (SourceReturnReference, its examples' name, when the
# channel's source_reference_key says so; see returns_hub.choices.SourceReferenceKey).

# Containers whose children are list items when Khaos's XML is read.
LIST_CONTAINERS = frozenset(
    set(ITEM_ELEMENTS)
    | {"SupplierInfo", "Images", "ListingPrices", "UserDefinedFields", "CustomOptions"}
)

# The returns download's import options: how Khaos matches an existing address and contact.
RETURN_IMPORT_CONFIG = {"MatchAddressOn": ["Address1", "Postcode"], "MatchContactOn": ["Surname"]}
ORDER_IMPORT_CONFIG = {
    "MatchCompanyOn": ["CompanyCode"],
    "MatchAddressOn": ["Address1", "Postcode"],
    "MatchContactOn": ["Surname"],
}

DATA_ITEM_KEYS = frozenset({"ID", "Code", "Name"})
