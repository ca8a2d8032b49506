// Validates custom resources against the schemas the @kubernetes-models packages ship (made
// from each project's Go API types): reads a JSON array of objects on stdin, prints a JSON
// array with, for each object, its problems (an empty list when it is valid) or null when no
// package here knows its kind. What these schemas check: every field's type, required
// fields, enumerations and formats. What they do not: field names they do not know (an
// unknown field passes), and the CEL rules of the real CRDs.
import * as keda from "@kubernetes-models/keda/keda.sh/v1alpha1";
import * as gateway from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1";

const MODELS = {
  "keda.sh/v1alpha1": keda,
  "gateway.networking.k8s.io/v1": gateway,
};

function problems(object) {
  const model = (MODELS[object.apiVersion] || {})[object.kind];
  if (model === undefined) {
    return null;
  }
  try {
    new model(object).validate();
    return [];
  } catch (error) {
    return error.message.split(", ");
  }
}

let input = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) {
  input += chunk;
}
process.stdout.write(JSON.stringify(JSON.parse(input).map(problems)));
