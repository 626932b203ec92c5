using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ipop.Samples.Hosting;

/// <summary>Source-generated JSON of the status socket (web defaults: camelCase names, case-insensitive reads).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(StatusReport))]
internal sealed partial class StatusJsonContext : JsonSerializerContext;
