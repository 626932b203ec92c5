using System.Text.Json.Serialization;

namespace Ipop.Controllers.SocialVpn;

/// <summary>
/// Source-generated JSON for the SocialVPN address book file (no reflection, so Native AOT keeps working); default
/// options, so the file format is the one the reflection serializer wrote before.
/// </summary>
[JsonSerializable(typeof(Dictionary<string, FriendAddressBook.StoredEntry>))]
internal sealed partial class AddressBookJsonContext : JsonSerializerContext;
